import Foundation
import Testing

/// contrib/python and contrib/shell against the real ledgerd: every non-blank line is
/// answered in order, sequences count up per agent, and the Python client's resend after a
/// broken connection is answered from the dedupe window instead of chaining twice.
@Suite struct ClientTests {
    /// Answers as lines, without the trailing empty one.
    static func lines(_ text: String) -> [String] { text.split(separator: "\n").map(String.init) }

    static func exportVerifies(_ daemon: DaemonProcess, records: Int) throws {
        let export = try daemon.export()
        #expect(Self.lines(export).count == records)
        let directory = try TemporaryDirectory("ledger-client-export")
        let path = try directory.write("export.ndjson", Array(export.utf8))
        let verified = try run(try python3(), [Paths.repo("contrib/verify/ledger_verify.py"), "--complete", "--json", path])
        #expect(verified.status == 0, "\(verified.stdout)")
        #expect(verified.stdout.contains(#""records":\#(records),"#), "\(verified.stdout)")
    }

    @Test func thePythonExampleRecordsASessionAsSequences1Through4() throws {
        let daemon = try DaemonProcess()
        let result = try run(try python3(), [Paths.repo("contrib/python/example.py"), "--socket", daemon.socket,
                                             "--agent", "example-agent"])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        let output = Self.lines(result.stdout)
        #expect(output.count == 4)
        for (index, (line, type)) in zip(output, ["SESSION_START", "TOOL_CALL", "TOOL_RESULT", "SESSION_END"]).enumerated() {
            #expect(line.hasPrefix(type) && line.contains(" ok  sequence \(index + 1) "), "\(line)")
        }
        try Self.exportVerifies(daemon, records: 4)
    }

    /// Three non-blank lines (one invalid) and a blank one: three answers, in order.
    static let mixedInput = Array("""
        {"agent_id":"shell","action_type":"CUSTOM","action_name":"first"}

        {"agent_id":"shell","action_type":"not-upper-case"}
        {"agent_id":"shell","action_type":"CUSTOM","action_name":"second"}

        """.utf8)

    static func checkMixedAnswers(_ result: Finished) {
        #expect(result.status == 0, "\(result.stderr)")
        let answers = Self.lines(result.stdout)
        #expect(answers.count == 3, "\(result.stdout)")
        guard answers.count == 3 else { return }
        #expect(answers[0].hasPrefix(#"{"ok":true,"#) && answers[0].contains(#""agent_id":"shell","sequence":1,"#))
        #expect(answers[1].hasPrefix(#"{"ok":false,"line":3,"error":{"code":"VALIDATION_ERROR","field":"action_type""#),
                "\(answers[1])")
        #expect(answers[2].hasPrefix(#"{"ok":true,"#) && answers[2].contains(#""agent_id":"shell","sequence":2,"#))
    }

    @Test(.enabled(if: Paths.onPath("socat") != nil, "socat is not installed"))
    func theSocatExampleGetsOneAnswerPerNonBlankLineInOrder() throws {
        let daemon = try DaemonProcess()
        Self.checkMixedAnswers(try run(Paths.repo("contrib/shell/send-socat.sh"), [daemon.socket], stdin: Self.mixedInput))
        try Self.exportVerifies(daemon, records: 2)
    }

    @Test(.enabled(if: Paths.onPath("nc") != nil, "nc is not installed"))
    func theNetcatExampleGetsOneAnswerPerNonBlankLineInOrder() throws {
        let daemon = try DaemonProcess()
        Self.checkMixedAnswers(try run(Paths.repo("contrib/shell/send-nc.sh"), [daemon.socket], stdin: Self.mixedInput))
        try Self.exportVerifies(daemon, records: 2)
    }

    @Test(.enabled(if: Paths.onPath("socat") != nil, "socat is not installed"))
    func recordEventSucceedsOnlyWhenTheEventIsAccepted() throws {
        let daemon = try DaemonProcess()
        let accepted = try run(Paths.repo("contrib/shell/record-event.sh"), ["backup-job", "CUSTOM", "nightly", daemon.socket])
        #expect(accepted.status == 0, "\(accepted.stdout)\(accepted.stderr)")
        #expect(accepted.stdout.contains(#""agent_id":"backup-job","sequence":1,"#))
        let again = try run(Paths.repo("contrib/shell/record-event.sh"), ["backup-job", "CUSTOM", "nightly", daemon.socket])
        #expect(again.stdout.contains(#""sequence":2,"#), "a new id is a new record")
        let refused = try run(Paths.repo("contrib/shell/record-event.sh"), ["backup-job", "lower", "x", daemon.socket])
        #expect(refused.status == 1)
        #expect(refused.stdout.contains("VALIDATION_ERROR"))
        let usage = try run(Paths.repo("contrib/shell/record-event.sh"), [])
        #expect(usage.status == 2)
    }

    /// A Python driver that puts a proxy between LedgerClient and ledgerd. The proxy's first
    /// connection forwards only the first K lines, swallows ledgerd's answers to them, and
    /// hangs up; later connections are passed through. The client must reconnect once and
    /// resend all N events with the same ids: the first K are answered from ledgerd's dedupe
    /// window with their original sequences, the rest are chained after them.
    static let resendDriver = #"""
        import json, os, socket, sys, threading
        sys.path.insert(0, sys.argv[1])
        from ledger_client import LedgerClient
        daemon, proxy_path, forward_first = sys.argv[2], sys.argv[3], int(sys.argv[4])

        def pump(src, dst):
            try:
                while True:
                    data = src.recv(65536)
                    if not data:
                        break
                    dst.sendall(data)
            except OSError:
                pass
            finally:
                try: dst.shutdown(socket.SHUT_WR)
                except OSError: pass

        def serve(listener):
            first = True
            while True:
                client, _ = listener.accept()
                upstream = socket.socket(socket.AF_UNIX); upstream.connect(daemon)
                if first:
                    first = False
                    buffered = b""
                    while buffered.count(b"\n") < forward_first:
                        buffered += client.recv(65536)
                    lines = buffered.split(b"\n")[:forward_first]
                    upstream.sendall(b"".join(line + b"\n" for line in lines))
                    answers = b""
                    while answers.count(b"\n") < forward_first:   # durable, then thrown away
                        answers += upstream.recv(65536)
                    upstream.close(); client.close()
                    continue
                threading.Thread(target=pump, args=(client, upstream), daemon=True).start()
                threading.Thread(target=pump, args=(upstream, client), daemon=True).start()

        listener = socket.socket(socket.AF_UNIX); listener.bind(proxy_path); listener.listen(8)
        threading.Thread(target=serve, args=(listener,), daemon=True).start()
        events = [{"agent_id": "resender", "action_type": "TOOL_CALL", "action_input": {"i": i}} for i in range(10)]
        client = LedgerClient(proxy_path, timeout=10, backoff=0.05)
        answers = client.send_many(events)
        print(json.dumps({"reconnects": client.reconnects, "answers": answers}))
        """#

    @Test func thePythonClientResendsUnansweredEventsAfterABrokenConnectionWithoutDuplicates() throws {
        let daemon = try DaemonProcess()
        let scratch = try TemporaryDirectory("ledger-proxy")
        let script = try scratch.write("driver.py", Array(Self.resendDriver.utf8))
        let result = try run(try python3(), [script, Paths.repo("contrib/python"), daemon.socket, scratch.file("proxy.sock"), "4"],
                             timeout: 60)
        #expect(result.status == 0, "\(result.stderr)")
        let report = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any] ?? [:]
        #expect(report["reconnects"] as? Int == 1)
        let answers = report["answers"] as? [[String: Any]] ?? []
        #expect(answers.count == 10)
        #expect(answers.map { $0["ok"] as? Bool } == Array(repeating: true, count: 10))
        #expect(answers.map { $0["sequence"] as? Int } == Array(1...10).map { Optional($0) })
        #expect(Set(answers.compactMap { $0["id"] as? String }).count == 10)

        // ledgerd holds each event once: ten records, a complete host stream that verifies.
        try Self.exportVerifies(daemon, records: 10)
        let status = try run(Paths.binary("ledgerctl"), ["status", "--socket", daemon.socket, "--json"])
        #expect(status.stdout.contains(#""deduplicated":4,"#),
                "ledgerd answered the 4 resent events from its dedupe window: \(status.stdout)")
    }

    @Test func thePythonClientGivesUpWithAnErrorWhenLedgerdIsNotThere() throws {
        let scratch = try TemporaryDirectory("ledger-absent")
        let result = try run(try python3(), [Paths.repo("contrib/python/ledger_client.py"), "--socket", scratch.file("absent.sock")],
                             stdin: Array(#"{"agent_id":"a"}"#.utf8))
        #expect(result.status == 2)
        #expect(result.stderr.contains("unreachable"))
    }
}
