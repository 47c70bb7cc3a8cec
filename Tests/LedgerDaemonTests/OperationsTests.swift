import Dispatch
import Foundation
import Glibc
import LedgerCore
import LedgerJournal
import LedgerPosix
import Testing

extension DaemonTests {
    @Test func at_the_disk_cap_new_lines_get_unavailable_and_nothing_older_is_dropped() throws {
        let daemon = try DaemonHarness(["--standalone", "--max-disk", "64KiB"])
        try daemon.start()
        let client = try Client(daemon.socket)
        try client.send((0..<400).map { _ in event("cap", padding: 300) + "\n" }.joined())
        let r = client.readLines(400).map(Response.init)
        #expect(r.count == 400)
        let accepted = r.prefix { $0.ok }.count
        #expect(accepted > 50 && accepted < 400)
        #expect(r[accepted...].allSatisfy { $0.code == "UNAVAILABLE" })
        let status = try daemon.status()
        let journal = status["journal"] as! [String: Any]
        #expect(journal["disk_full"] as? Bool == true)
        #expect((journal["max_disk_bytes"] as! NSNumber).intValue == 64 << 10)
        #expect((journal["bytes"] as! NSNumber).intValue <= 64 << 10)
        #expect(try daemon.terminate() == 0)
        #expect(try daemon.journalLines().count == accepted)
    }

    @Test func sigterm_drains_answers_what_was_sent_syncs_and_exits_zero() throws {
        let daemon = try DaemonHarness()
        try daemon.start()
        let clients = try (0..<4).map { _ in try Client(daemon.socket) }
        for (c, client) in clients.enumerated() {
            try client.send((0..<5000).map { _ in event("drain-\(c)") + "\n" }.joined())
        }
        // The writers read while the daemon drains, as live writers do.
        let answers = ResultBox(count: clients.count)
        let group = DispatchGroup()
        for (c, client) in clients.enumerated() {
            DispatchQueue(label: "drain-reader-\(c)").async(group: group) {
                answers.set(c, client.readToEnd(timeout: 20).split(separator: "\n").map { Response(String($0)) })
            }
        }
        let status = try daemon.terminate()
        group.wait()
        var answered = 0
        for c in clients.indices {
            #expect(answers.get(c).allSatisfy { $0.ok })
            answered += answers.get(c).count
        }
        #expect(status == 0)
        #expect(answered == 20_000)
        #expect(try daemon.journalLines().count == 20_000)
        #expect(daemon.log().contains("drained"))
        #expect(!FileSystem.exists(daemon.socket))
    }

    @Test func socket_activation_uses_the_passed_descriptor() throws {
        let daemon = try DaemonHarness()
        let path = daemon.dir + "/activated.sock"
        let listener = try UnixSocket.listen(at: path)
        try listener.setNonBlocking(false)
        try daemon.startActivated(listener: listener)
        try daemon.waitUntilListening()
        try listener.close()
        #expect(!FileSystem.exists(daemon.socket), "ledgerd must not bind its own socket when activated")
        let client = try Client(path)
        try client.send(event("activated") + "\n")
        #expect(client.readLine().map(Response.init)?.ok == true)
        #expect(daemon.log().contains("using sockets from systemd"))
        #expect(try daemon.terminate() == 0)
    }

    @Test func sockets_are_created_mode_0660_with_the_configured_group() throws {
        let group = String(cString: getgrgid(getgid())!.pointee.gr_name)
        let daemon = try DaemonHarness(["--standalone", "--socket-group", group])
        try daemon.start()
        for path in [daemon.socket, daemon.socket + ".admin"] {
            let status = try FileSystem.status(path)
            #expect(status.kind == .socket && status.permissions == 0o660 && status.gid == getgid())
        }
        #expect(try daemon.terminate() == 0)
        // A group that does not exist is a start-up error, not a socket with the wrong owner.
        let wrong = try DaemonHarness(["--standalone", "--socket-group", "no-such-group-ledger"])
        #expect(throws: HarnessError.self) { try wrong.start() }
        #expect(wrong.log().contains("no-such-group-ledger"))
    }

    /// "caf\u00e9" and "cafe\u0301" are equal as Swift Strings but are two agent_ids: two
    /// chains in the daemon, in status (which trapped on them), and across a restart
    /// (recovery folded them into one chain and reused a sequence).
    @Test func agent_ids_that_differ_only_in_unicode_normalization_are_two_chains_across_a_restart() throws {
        let daemon = try DaemonHarness()
        try daemon.start()
        let composed = #"caf\u00e9"#, decomposed = #"cafe\u0301"#
        var client = try Client(daemon.socket)
        try client.send([composed, decomposed, composed].map { event($0) + "\n" }.joined())
        #expect(client.readLines(3).map { Response($0).sequence } == [1, 1, 2])
        let status = try daemon.status()
        #expect((status["chain_count"] as! NSNumber).intValue == 2)
        #expect(try daemon.terminate() == 0)
        try daemon.start()
        client = try Client(daemon.socket)
        try client.send([decomposed, composed].map { event($0) + "\n" }.joined())
        #expect(client.readLines(2).map { Response($0).sequence } == [2, 3])
        #expect(try daemon.terminate() == 0)
        let report = try daemon.verifyJournal()
        #expect(report.failure == nil && report.records == 5 && report.chains == 2)
    }

    @Test func status_shows_chains_backlog_cap_and_connections() throws {
        let daemon = try DaemonHarness(["--relay-cursor", "/nonexistent/cursor", "--max-disk", "1GiB"])
        try daemon.start()
        let client = try Client(daemon.socket)
        try client.send((0..<12).map { event("s-\($0 % 4)") + "\n" }.joined())
        #expect(client.readLines(12).count == 12)
        let status = try daemon.status()
        #expect(status["host_id"] as? String == "test-host")
        #expect((status["chain_count"] as! NSNumber).intValue == 4)
        let upstream = status["upstream"] as! [String: Any]
        #expect(upstream["standalone"] as? Bool == false)
        #expect((upstream["unforwarded_records"] as! NSNumber).intValue == 12)
        #expect(((status["journal"] as! [String: Any])["max_disk_bytes"] as! NSNumber).intValue == 1 << 30)
        #expect(((status["connections"] as! [String: Any])["open"] as! NSNumber).intValue == 1)
        // With an acknowledged position from the relay's cursor file, the backlog shrinks.
        #expect(try daemon.terminate() == 0)
        let cursor = daemon.dir + "/cursor"
        try FileSystem.writeAtomically(RelayCursor.encode(ackedHostSeq: 5, hostID: "test-host"), to: cursor)
        try daemon.start(extra: ["--relay-cursor", cursor])
        let later = try daemon.status()
        #expect(((later["upstream"] as! [String: Any])["unforwarded_records"] as! NSNumber).intValue == 7)
        #expect((later["upstream"] as! [String: Any])["relay_cursor_ignored"] == nil)
        #expect(try daemon.terminate() == 0)
        // A cursor written for another host's journal counts for nothing, and status says why.
        try FileSystem.writeAtomically(RelayCursor.encode(ackedHostSeq: 5, hostID: "other-host"), to: cursor)
        try daemon.start(extra: ["--relay-cursor", cursor])
        let foreign = try daemon.status()["upstream"] as! [String: Any]
        #expect((foreign["unforwarded_records"] as! NSNumber).intValue == 12)
        #expect(foreign["acked_host_seq"] == nil)
        #expect((foreign["relay_cursor_ignored"] as? String)?.contains("belongs to host \"other-host\"") == true)
        #expect(try daemon.terminate() == 0)
    }
}
