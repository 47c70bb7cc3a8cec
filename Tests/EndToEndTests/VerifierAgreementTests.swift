import Foundation
import LedgerCore
import Testing

/// contrib/verify/ledger_verify.py (Python standard library only) and `ledgerctl verify`
/// reach the same verdict, reason, line and exit status on every export: valid ones,
/// one tampered export per reason, partial chains, and `--complete`.
@Suite struct VerifierAgreementTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var bytes: [UInt8]
        var complete = false
        /// nil: the export must verify.
        var reason: String?
        var line: Int?
        var partialChains = 0
        var testDescription: String { name }
    }

    static let base: [String] = try! Exports.records()

    static func edited(_ index: Int, _ from: String, _ to: String, rehash: Bool = false) -> [String] {
        var lines = base
        precondition(lines[index].contains(from), "\(from) not in line \(index)")
        lines[index] = lines[index].replacingOccurrences(of: from, with: to)
        if rehash { lines[index] = Exports.rehash(lines[index]) }
        return lines
    }

    static func removing(_ indices: Set<Int>) -> [String] {
        base.enumerated().filter { !indices.contains($0.offset) }.map(\.element)
    }

    static func file(_ lines: [String]) -> [UInt8] { Exports.file(lines) }

    /// h1/b#1 (host_seq 2) and h1/a#2 (host_seq 3) swapped: host_seq goes backwards.
    static let swapped: [String] = {
        var lines = base
        lines.swapAt(2, 3)
        return lines
    }()

    static let cases: [Case] = {
        // Plan per cycle of 5: i%5 == 0 h1/a, 1 h2/a, 2 h1/b, 3 h1/a, 4 h2/c.
        var cases: [Case] = []
        let valid = file(base)
        cases.append(Case(name: "a valid export verifies", bytes: valid))
        cases.append(Case(name: "a valid export verifies as complete streams", bytes: valid, complete: true))
        cases.append(Case(name: "an empty export verifies", bytes: []))
        cases.append(Case(name: "awkward numbers, strings and member order verify", bytes: file(try! Exports.records(6) { i in
            [#"{"😀":1,"דּ":2,"a":[1e21,1.5E-7,-0,0.000001,123456789012345680000,4.50,1e-7,100]}"#,
             #"{"s":"\u007f\u2028\u0001\t\n\"\\/ é","e":"","\u00e9":null}"#,
             #"{"b":true,"a":false,"n":null,"z":[[],{}],"x":-1.7976931348623157e308}"#,
             #"{"deep":"# + String(repeating: "[", count: 20) + "1" + String(repeating: "]", count: 20) + "}",
             #"{"k":5e-324,"K":0.30000000000000004,"\ud83d\ude00":"\ud83d\ude00"}"#,
             #"{"":0,"a\u0000b":"\u001f"}"#][i]
        })))

        cases.append(Case(name: "changed content is hash_mismatch", bytes: file(edited(7, #""i":7"#, #""i":8"#)),
                          reason: "hash_mismatch", line: 8))
        cases.append(Case(name: "a forged prev_hash with a fresh hash is broken_link",
                          bytes: file(edited(3, Exports.member("prev_hash", of: base[3]), String(repeating: "ab", count: 32),
                                             rehash: true)), reason: "broken_link", line: 4))
        cases.append(Case(name: "sequence 1 with a non-zero prev_hash is broken_link",
                          bytes: file(edited(0, String(repeating: "0", count: 64), String(repeating: "0", count: 63) + "1",
                                             rehash: true)), reason: "broken_link", line: 1))
        cases.append(Case(name: "a missing record is sequence_gap", bytes: file(removing([3])),
                          reason: "sequence_gap", line: 5))
        var duplicated = base
        duplicated.insert(base[3], at: 4)
        cases.append(Case(name: "a repeated record is duplicate_sequence", bytes: file(duplicated),
                          reason: "duplicate_sequence", line: 5))
        cases.append(Case(name: "host_seq going backwards is host_gap", bytes: file(swapped), reason: "host_gap", line: 4))
        // The last h1/b record (i = 27) deleted: its chain still verifies, but h1's host_seq has a hole.
        cases.append(Case(name: "a deleted chain tail verifies without --complete", bytes: file(removing([27]))))
        cases.append(Case(name: "a deleted chain tail is host_gap with --complete", bytes: file(removing([27])),
                          complete: true, reason: "host_gap", line: 28))

        cases.append(Case(name: "whitespace is not_canonical", bytes: file(edited(0, "{", "{ ")),
                          reason: "not_canonical", line: 1))
        cases.append(Case(name: "a non-canonical number is not_canonical", bytes: file(edited(7, #""i":7"#, #""i":7.0"#)),
                          reason: "not_canonical", line: 8))
        cases.append(Case(name: "an unnecessary escape is not_canonical", bytes: file(edited(5, #""agent_id":"a""#, #""agent_id":"\u0061""#)),
                          reason: "not_canonical", line: 6))
        var crlf = base
        crlf[9] += "\r"
        cases.append(Case(name: "a carriage return before the newline is not_canonical", bytes: file(crlf),
                          reason: "not_canonical", line: 10))

        cases.append(Case(name: "a line that is not JSON is malformed", bytes: file(Array(base[..<4]) + ["not json"] + base[4...]),
                          reason: "malformed", line: 5))
        cases.append(Case(name: "an empty line is malformed", bytes: file(Array(base[..<2]) + [""] + base[2...]),
                          reason: "malformed", line: 3))
        cases.append(Case(name: "a duplicate member name is malformed", bytes: file(edited(7, #""i":7"#, #""i":7,"i":7"#)),
                          reason: "malformed", line: 8))
        cases.append(Case(name: "an inexact number is malformed",
                          bytes: file(edited(7, #""i":7"#, #""i":12345678901234567890"#)), reason: "malformed", line: 8))
        cases.append(Case(name: "an escaped lone surrogate is malformed",
                          bytes: file(edited(7, #""i":7"#, #""i":"\ud800""#)), reason: "malformed", line: 8))
        cases.append(Case(name: "a missing ledger field is malformed",
                          bytes: file(edited(7, #""host_seq":"#, #""host_sec":"#)), reason: "malformed", line: 8))
        cases.append(Case(name: "a bad received_at is malformed",
                          bytes: file(edited(7, #""received_at":"2026-02-17T"#, #""received_at":"2026-02-30T"#)),
                          reason: "malformed", line: 8))
        cases.append(Case(name: "an upper-case hash is malformed",
                          bytes: file(edited(7, Exports.member("hash", of: base[7]), Exports.member("hash", of: base[7]).uppercased())),
                          reason: "malformed", line: 8))
        let nest = { (depth: Int) in String(repeating: "[", count: depth) + String(repeating: "]", count: depth) }
        // action_input is at depth 2, so 63 arrays make 64 levels (allowed), 64 arrays 65 (refused).
        cases.append(Case(name: "64 levels of nesting parse (and here fail the hash)",
                          bytes: file(edited(7, #"{"i":7}"#, nest(63))), reason: "hash_mismatch", line: 8))
        cases.append(Case(name: "65 levels of nesting are malformed",
                          bytes: file(edited(7, #"{"i":7}"#, nest(64))), reason: "malformed", line: 8))
        let around = base[7].components(separatedBy: #""i":7"#)
        let invalidUTF8 = file(Array(base[..<7])) + Array(around[0].utf8) + Array(#""i":"#.utf8)
            + [0x22, 0xED, 0xA0, 0x80, 0x22] + Array(around[1].utf8) + [0x0A]
        cases.append(Case(name: "an encoded surrogate (invalid UTF-8) is malformed", bytes: invalidUTF8,
                          reason: "malformed", line: 8))
        cases.append(Case(name: "a last line without its newline is malformed", bytes: Array(file(base).dropLast()),
                          reason: "malformed", line: 30))
        cases.append(Case(name: "a line over 1 MiB is malformed",
                          bytes: file(Array(base[..<3]) + [String(repeating: "x", count: (1 << 20) + 2)] + base[3...]),
                          reason: "malformed", line: 4))
        // The last record (a chain head), so a fresh hash breaks no later link.
        let withNull = edited(29, #""origin":"#, #""metadata":null,"origin":"#, rehash: true)
        cases.append(Case(name: "a top-level null member counts as absent and verifies", bytes: file(withNull)))

        // Partial chains: h1/a's first two records (i = 0, 3) are missing.
        cases.append(Case(name: "a chain starting above sequence 1 is a partial chain", bytes: file(removing([0, 3])),
                          partialChains: 1))
        cases.append(Case(name: "a partial chain is host_gap with --complete", bytes: file(removing([0, 3])),
                          complete: true, reason: "host_gap", line: 2))
        cases.append(Case(name: "an export starting mid-stream has one partial chain per chain",
                          bytes: file(Array(base[12...])), partialChains: 4))
        cases.append(Case(name: "a partial chain that is then broken is reported with its anchor",
                          bytes: file(Array(base[12...]).enumerated().filter { $0.offset != 6 }.map(\.element)),
                          reason: "sequence_gap", line: 8, partialChains: 4))
        return cases
    }()

    /// The report with `failure.message` cut out, for reasons whose wording is the parser's own.
    static func withoutMessage(_ json: String) -> String {
        json.replacing(#/"message":"(?:[^"\\]|\\.)*",/#, with: "")
    }

    @Test(arguments: cases)
    func bothVerifiersAgree(_ testCase: Case) throws {
        let directory = try TemporaryDirectory("ledger-verify")
        let path = try directory.write("export.ndjson", testCase.bytes)
        let flags = (testCase.complete ? ["--complete"] : []) + ["--json", path]
        let swift = try run(Paths.binary("ledgerctl"), ["verify"] + flags)
        let python = try run(try python3(), [Paths.repo("contrib/verify/ledger_verify.py")] + flags)

        let expectedStatus: Int32 = testCase.reason == nil ? 0 : 1
        #expect(swift.status == expectedStatus, "ledgerctl: \(swift.stdout) \(swift.stderr)")
        #expect(python.status == expectedStatus, "python: \(python.stdout) \(python.stderr)")
        let report = swift.stdout
        if let reason = testCase.reason {
            #expect(report.contains(#""reason":"\#(reason)""#), "\(report)")
            #expect(report.contains(#""line":\#(testCase.line!),"#), "\(report)")
        } else {
            #expect(report.contains(#""valid":true"#), "\(report)")
        }
        #expect(report.components(separatedBy: #""anchor":"#).count - 1 == testCase.partialChains, "\(report)")
        if testCase.reason == "malformed" {
            #expect(Self.withoutMessage(python.stdout) == Self.withoutMessage(swift.stdout))
        } else {
            #expect(python.stdout == swift.stdout)
        }
    }

    @Test func bothVerifiersPrintTheSameTextReport() throws {
        let directory = try TemporaryDirectory("ledger-verify")
        for (name, lines) in [("valid", Self.removing([0, 3])), ("gap", Self.removing([3])),
                              ("host", Self.swapped)] {
            let path = try directory.write(name, Self.file(lines))
            let swift = try run(Paths.binary("ledgerctl"), ["verify", path])
            let python = try run(try python3(), [Paths.repo("contrib/verify/ledger_verify.py"), path])
            #expect(python.stdout == swift.stdout)
            #expect(python.status == swift.status)
        }
    }

    @Test func usageErrorsExitWith2() throws {
        let python = try run(try python3(), [Paths.repo("contrib/verify/ledger_verify.py"), "--bogus", "x"])
        #expect(python.status == 2)
        #expect(python.stderr.contains("usage:"))
        let missing = try run(try python3(), [Paths.repo("contrib/verify/ledger_verify.py"), "/nonexistent/export"])
        #expect(missing.status == 2)
        let swift = try run(Paths.binary("ledgerctl"), ["verify", "/nonexistent/export"])
        #expect(swift.status == 2)
    }

    @Test func standardInputIsVerifiedLikeAFile() throws {
        let python = try run(try python3(), [Paths.repo("contrib/verify/ledger_verify.py"), "--json", "-"],
                             stdin: Self.file(Self.base))
        let swift = try run(Paths.binary("ledgerctl"), ["verify", "--json", "-"], stdin: Self.file(Self.base))
        #expect(python.status == 0)
        #expect(python.stdout == swift.stdout)
    }

    /// docs/FORMAT.md §5: the worked examples' record lines verify with the independent tool,
    /// and the `hashed` blocks hash to the `hash` blocks with its own canonicalizer.
    @Test func theWorkedExamplesInFormatMDVerifyWithThePythonTool() throws {
        let document = try String(contentsOfFile: Paths.repo("docs/FORMAT.md"), encoding: .utf8)
        func blocks(_ info: String) -> [String] {
            document.components(separatedBy: "```\(info)\n").dropFirst().map { String($0.prefix { $0 != "`" }.dropLast()) }
        }
        let records = blocks("json record"), hashes = blocks("text hash"), hashed = blocks("json hashed")
        #expect(records.count == 2 && hashes.count == 2 && hashed.count == 2)
        let directory = try TemporaryDirectory("ledger-format")
        let path = try directory.write("examples.ndjson", Array(records.map { $0 + "\n" }.joined().utf8))
        let python = try run(try python3(), [Paths.repo("contrib/verify/ledger_verify.py"), "--complete", "--json", path])
        #expect(python.status == 0, "\(python.stdout)\(python.stderr)")
        #expect(python.stdout == #"{"chains":1,"hosts":1,"partial_chains":[],"records":2,"valid":true}"# + "\n")

        let script = """
            import hashlib, importlib.util, sys
            spec = importlib.util.spec_from_file_location("lv", sys.argv[1]); lv = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(lv)
            for line in sys.stdin.buffer.read().splitlines():
                record = lv.parse_ijson(line); record.pop("hash")
                canonical = lv.canonicalize(record)
                print(canonical.decode(), hashlib.sha256(canonical).hexdigest())
            """
        let rebuilt = try run(try python3(), ["-c", script, Paths.repo("contrib/verify/ledger_verify.py")],
                              stdin: Array(records.map { $0 + "\n" }.joined().utf8))
        #expect(rebuilt.status == 0, "\(rebuilt.stderr)")
        let expected = zip(hashed, hashes).map { "\($0) \($1)\n" }.joined()
        #expect(rebuilt.stdout == expected)

        var tampered = records
        tampered[1] = tampered[1].replacingOccurrences(of: #""exit_code":0"#, with: #""exit_code":1"#)
        let badPath = try directory.write("tampered.ndjson", Array(tampered.map { $0 + "\n" }.joined().utf8))
        let broken = try run(try python3(), [Paths.repo("contrib/verify/ledger_verify.py"), "--json", badPath])
        #expect(broken.status == 1)
        #expect(broken.stdout.contains(#""line":2,"#) && broken.stdout.contains(#""reason":"hash_mismatch""#))
    }
}
