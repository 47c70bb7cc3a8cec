import Dispatch
import Glibc
import Testing
@testable import LedgerPosix

@Suite struct LogTests {
    @Test func line_format_without_timestamp() {
        let line = Logger.formatLine(
            timestamp: nil, level: .info, component: "ledgerd", message: "listening",
            fields: [("socket", "/run/ledger.sock"), ("fds", "3")])
        #expect(line == "level=info component=ledgerd msg=\"listening\" socket=/run/ledger.sock fds=3\n")
    }

    @Test func line_format_with_timestamp_prefix() {
        let line = Logger.formatLine(
            timestamp: "2026-11-23T10:00:00.123456Z", level: .warn, component: "relay", message: "retrying", fields: [])
        #expect(line == "ts=2026-11-23T10:00:00.123456Z level=warn component=relay msg=\"retrying\"\n")
    }

    @Test(arguments: [
        ("plain", "plain"),
        ("/var/lib/ledger", "/var/lib/ledger"),
        ("ünïcode", "ünïcode"),
        ("", "\"\""),
        ("two words", "\"two words\""),
        ("a=b", "\"a=b\""),
        ("say \"hi\"", "\"say \\\"hi\\\"\""),
        ("back\\slash", "\"back\\\\slash\""),
        ("line\nbreak", "\"line\\nbreak\""),
        ("cr\rtab\t", "\"cr\\rtab\\t\""),
        ("bell\u{07}del\u{7F}", "\"bell\\u0007del\\u007f\""),
        ("forged\nlevel=error msg=\"x\"", "\"forged\\nlevel=error msg=\\\"x\\\"\""),
    ])
    func values_are_quoted_and_escaped_only_when_needed(value: String, rendered: String) {
        #expect(Logger.quoted(value, always: false) == rendered)
    }

    @Test func message_is_always_quoted() {
        #expect(Logger.quoted("ok", always: true) == "\"ok\"")
    }

    @Test(arguments: [("socket", "socket"), ("host_seq", "host_seq"), ("a.b-c", "a.b-c"), ("bad key=", "bad_key_"), ("", "_")])
    func keys_are_sanitized(key: String, rendered: String) {
        #expect(Logger.sanitizedKey(key) == rendered)
    }

    @Test func optional_and_other_values_render_plainly() {
        let some: Int? = 5
        let none: String? = nil
        #expect(Logger.text(of: some as Any) == "5")
        #expect(Logger.text(of: none as Any) == "nil")
        #expect(Logger.text(of: IOError(errno: 2, reason: "open(x)")) == "open(x): No such file or directory (errno 2)")
    }

    @Test(arguments: [
        ("debug", Logger.Level.debug), ("INFO", .info), ("warn", .warn), ("warning", .warn), ("Error", .error),
    ])
    func levels_parse(text: String, level: Logger.Level) {
        #expect(Logger.Level(parsing: text) == level)
    }

    @Test func unknown_level_does_not_parse() {
        #expect(Logger.Level(parsing: "verbose") == nil)
        #expect(Logger.Level.debug < .info && Logger.Level.warn < .error)
    }

    @Test func threshold_drops_lower_levels_and_lines_reach_the_output() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/log"
            let fd = try FileDescriptor.open(path, .writeOnly, options: [.create, .append])
            try fd.closeAfter {
                let log = Logger(component: "test", threshold: .info, output: fd, timestamps: false)
                log.debug("hidden")
                log.info("shown", ["n": 1, "path": "/a b"])
                log.withComponent("journal").error("failed", ["error": IOError(errno: 28, reason: "write(fd 5)")])
                #expect(!log.isEnabled(.debug))
            }
            #expect(try readText(path) == """
                level=info component=test msg="shown" n=1 path="/a b"
                level=error component=journal msg="failed" error="write(fd 5): No space left on device (errno 28)"

                """)
        }
    }

    @Test func timestamps_are_rfc3339_utc() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/log"
            let fd = try FileDescriptor.open(path, .writeOnly, options: .create)
            try fd.closeAfter {
                Logger(component: "t", threshold: .debug, output: fd, timestamps: true).debug("x")
            }
            let line = try readText(path)
            // ts=YYYY-MM-DDTHH:MM:SS.ffffffZ level=...
            #expect(line.hasPrefix("ts=20"))
            #expect(Array(line.utf8)[29] == UInt8(ascii: "Z"))
            #expect(line.hasSuffix(" level=debug component=t msg=\"x\"\n"))
        }
    }

    @Test func concurrent_lines_never_interleave() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/log"
            let fd = try FileDescriptor.open(path, .writeOnly, options: [.create, .append])
            try fd.closeAfter {
                let log = Logger(component: "t", threshold: .info, output: fd, timestamps: false)
                let payload = String(repeating: "x", count: 5000)
                DispatchQueue.concurrentPerform(iterations: 8) { thread in
                    for i in 0..<50 { log.info("m", ["thread": thread, "i": i, "payload": payload]) }
                }
            }
            let lines = try readText(path).split(separator: "\n")
            #expect(lines.count == 400)
            let wellFormed = lines.allSatisfy {
                $0.hasPrefix("level=info component=t msg=\"m\" thread=") && $0.hasSuffix(String(repeating: "x", count: 5000))
            }
            #expect(wellFormed)
        }
    }

    @Test func journal_stream_is_detected_only_for_the_matching_descriptor() throws {
        try withTemporaryDirectory { dir in
            let fd = try FileDescriptor.open(dir + "/f", .writeOnly, options: .create)
            try fd.closeAfter {
                let status = try fd.status()
                #expect(Logger.isJournalStream(fd, journalStream: "\(status.device):\(status.inode)"))
                #expect(!Logger.isJournalStream(fd, journalStream: "\(status.device):\(status.inode + 1)"))
                #expect(!Logger.isJournalStream(fd, journalStream: nil))
                #expect(!Logger.isJournalStream(fd, journalStream: "garbage"))
                #expect(Logger(component: "t", output: fd).timestamps == true)
            }
        }
    }
}
