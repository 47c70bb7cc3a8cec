import Testing
@testable import LedgerPosix

@Suite struct EnvironmentFileTests {
    @Test(arguments: [
        ("LEDGER_DATA_DIR=/var/lib/ledger", "LEDGER_DATA_DIR", "/var/lib/ledger"),
        ("  LEDGER_X = spaced value  ", "LEDGER_X", "spaced value"),
        ("\tLEDGER_X=\ttabbed", "LEDGER_X", "tabbed"),
        ("LEDGER_X=", "LEDGER_X", ""),
        ("LEDGER_X=a=b", "LEDGER_X", "a=b"),
        ("LEDGER_X=value # not a comment", "LEDGER_X", "value # not a comment"),
        ("LEDGER_X=\"double quoted\"", "LEDGER_X", "double quoted"),
        ("LEDGER_X=\"  kept  \"", "LEDGER_X", "  kept  "),
        ("LEDGER_X=\"say \\\"hi\\\" \\\\ \\$HOME \\`x\\`\"", "LEDGER_X", "say \"hi\" \\ $HOME `x`"),
        ("LEDGER_X=\"other \\n backslash\"", "LEDGER_X", "other \\n backslash"),
        ("LEDGER_X='single $HOME \\n'", "LEDGER_X", "single $HOME \\n"),
        ("LEDGER_X=\"\"", "LEDGER_X", ""),
        ("LEDGER_X=''", "LEDGER_X", ""),
        ("_lower_Case9=ünïcode", "_lower_Case9", "ünïcode"),
        ("UNRELATED_KEY=kept for other programs", "UNRELATED_KEY", "kept for other programs"),
    ])
    func good_lines(line: String, key: String, value: String) {
        #expect(EnvironmentFile.parseLine(line) == .assignment(key: key, value: value))
    }

    @Test(arguments: ["", "   ", "\t", "# comment", "; comment", "   # indented comment", "#LEDGER_X=1"])
    func skipped_lines(line: String) {
        #expect(EnvironmentFile.parseLine(line) == .skip)
    }

    @Test(arguments: [
        ("LEDGER_X", "expected KEY=value"),
        ("=value", "missing variable name"),
        ("export LEDGER_X=1", "'export' is not allowed"),
        ("1LEDGER=x", "invalid variable name '1LEDGER'"),
        ("LEDGER-X=1", "invalid variable name 'LEDGER-X'"),
        ("LEDGER X=1", "invalid variable name 'LEDGER X'"),
        ("LEDGER_X=\"unterminated", "unterminated double quote"),
        ("LEDGER_X=\"ends in escape\\\"", "unterminated double quote"),
        ("LEDGER_X='unterminated", "unterminated single quote"),
        ("LEDGER_X=\"a\"b", "after the closing quote"),
        ("LEDGER_X=\"a\" # comment", "after the closing quote"),
        ("LEDGER_X='a'b", "after the closing quote"),
        ("LEDGER_X=it's", "quote or backslash inside an unquoted value"),
        ("LEDGER_X=a\"b\"", "quote or backslash inside an unquoted value"),
        ("LEDGER_X=C:\\path", "quote or backslash inside an unquoted value"),
    ])
    func bad_lines(line: String, reason: String) {
        guard case .malformed(let message) = EnvironmentFile.parseLine(line) else {
            Issue.record("accepted: \(line)")
            return
        }
        #expect(message.contains(reason), "\(message)")
    }

    @Test func errors_name_the_file_and_line() {
        let text = "# ledger settings\n\nLEDGER_DATA_DIR=/x\nLEDGER_BROKEN\nLEDGER_Y=2\n"
        let error = #expect(throws: ConfigurationError.self) {
            _ = try EnvironmentFile.parse(Array(text.utf8), path: "/etc/ledger/ledger.env")
        }
        #expect(error == .malformedLine(path: "/etc/ledger/ledger.env", line: 4, reason: "expected KEY=value"))
        #expect(error?.description == "/etc/ledger/ledger.env:4: expected KEY=value")
    }

    @Test func later_lines_win_and_line_numbers_are_kept() throws {
        let text = "A=1\r\nB=2\nA=3\n"
        let file = try EnvironmentFile.parse(Array(text.utf8), path: "f")
        #expect(file.entries["A"] == EnvironmentFile.Entry(value: "3", line: 3))
        #expect(file.entries["B"] == EnvironmentFile.Entry(value: "2", line: 2))
        #expect(file.entries.count == 2)
    }

    @Test func invalid_utf8_is_malformed() {
        let bytes: [UInt8] = Array("A=1\nB=".utf8) + [0xFF, 0x0A]
        #expect(throws: ConfigurationError.malformedLine(path: "f", line: 2, reason: "not valid UTF-8")) {
            _ = try EnvironmentFile.parse(bytes, path: "f")
        }
    }

    @Test func load_reports_a_missing_file() throws {
        let error = #expect(throws: ConfigurationError.self) { _ = try EnvironmentFile.load("/nonexistent/ledger.env") }
        guard case .unreadableFile(let path, let reason)? = error else {
            Issue.record("unexpected \(String(describing: error))")
            return
        }
        #expect(path == "/nonexistent/ledger.env")
        #expect(reason.contains("No such file or directory"))
    }
}
