// End-to-end: the real ledgerd, ledger-relay and ledger-server, each test on its
// own directories and ports. Serialized: each one already keeps both cores busy.

import Foundation
import Glibc
import LedgerJournal
import LedgerPosix
@testable import LedgerRelay
import Testing

@Suite(.serialized)
struct RelayEndToEndTests {
    @Test func steadyFlowDeliversEveryRecordOnceAndChainsVerifyAtTheServer() throws {
        let stack = try TestStack("steady")
        try stack.startServer()
        try stack.startDaemon()
        let token = try stack.enrollmentToken()
        try stack.startRelay(["--enroll-token", token])
        var sent = 0
        for _ in 0..<10 {
            sent += try stack.send(500)
        }
        #expect(sent == 5000)
        try stack.waitForServer(records: sent)
        let (verified, lines) = try stack.verifyServer(expected: sent)
        #expect(verified == sent)
        #expect(lines == sent)
        // A lone event reaches the server well under a second after ledgerd answered it.
        let started = Date()
        #expect(try stack.send(1) == 1)
        try stack.waitForServer(records: sent + 1, seconds: 5)
        let latency = Date().timeIntervalSince(started)
        #expect(latency < 1.0, "a lone event took \(latency) s")
        try waitUntil("the cursor reaches \(sent + 1)", seconds: 5) { stack.cursor == UInt64(sent + 1) }
        // Enrollment happened once and left its marker; the token is not needed again.
        #expect(FileSystem.exists(stack.stateDirectory + "/enrolled"))
        try waitUntil("the status file shows forwarding, caught up", seconds: 5) {
            guard let status = stack.relayStatus else { return false }
            return status.state == .forwarding && status.ackedHostSeq == UInt64(sent + 1)
        }
    }

    @Test func serverOutageIsBufferedAndDrainedWithoutLossOrDuplicates() throws {
        let stack = try TestStack("outage")
        try stack.startServer()
        try stack.startDaemon()
        try stack.enrollKey()
        try stack.startRelay()
        var sent = try stack.send(1000)
        try stack.waitForServer(records: sent)
        stack.stopServer()
        // ledgerd keeps accepting while the server is away.
        sent += try stack.send(3000)
        #expect(sent == 4000)
        try waitUntil("the relay reports backing off", seconds: 10) { stack.relayStatus?.state == .backingOff }
        #expect(stack.cursor == 1000)
        try stack.startServer()
        try stack.waitForServer(records: sent)
        _ = try stack.verifyServer(expected: sent)
        #expect(stack.relay?.log.contains("forwarding backlog") == true || stack.relay?.log.contains("takes batches again") == true)
    }

    /// One batch in flight, and four on small batches (so that several are in flight at every
    /// kill and some are stored while an older one is still unanswered).
    @Test(arguments: [["--in-flight", "1"],
                      ["--in-flight", "4", "--batch-records", "40", "--backlog-batch-records", "40"]])
    func relayKilledWithSigkillAtRandomMomentsLeavesTheServerWithExactlyTheHostsRecords(relayFlags: [String]) throws {
        let stack = try TestStack("kill9")
        try stack.startServer()
        try stack.startDaemon()
        try stack.enrollKey()
        var generator = SystemRandomNumberGenerator()
        var sent = 0
        // A writer keeps the flow going while the relay dies again and again.
        let writerDone = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var writerSent = 0
        nonisolated(unsafe) var writerError: Error?
        let writerStack = stack
        let writer = Thread {
            do {
                for _ in 0..<40 {
                    writerSent += try writerStack.send(150)
                    usleep(100_000)
                }
            } catch { writerError = error }
            writerDone.signal()
        }
        writer.start()
        for _ in 0..<20 {
            try stack.startRelay(relayFlags)
            usleep(UInt32.random(in: 150_000...600_000, using: &generator))
            stack.relay?.killHard()
        }
        writerDone.wait()
        #expect(writerError == nil)
        sent = writerSent
        #expect(sent == 6000)
        try stack.startRelay(relayFlags)
        try stack.waitForServer(records: sent)
        _ = try stack.verifyServer(expected: sent)
        #expect(stack.cursor <= UInt64(sent))
    }

    @Test func connectionDroppedMidRequestOrBeforeTheAnswerIsResentAndStoredOnce() throws {
        let stack = try TestStack("drop")
        try stack.startServer()
        try stack.startDaemon()
        try stack.enrollKey()
        let proxy = try ChaosProxy(upstreamPort: stack.serverPort)
        defer { proxy.close() }
        try stack.startRelay(serverURL: proxy.url)
        var sent = try stack.send(500)
        try stack.waitForServer(records: sent)

        proxy.mode = .dropMidRequest(300)
        sent += try stack.send(500)
        try waitUntil("a dropped request is retried", seconds: 10) { (stack.relayStatus?.failedAttempts ?? 0) >= 2 }
        #expect(try stack.serverHolds()?.records == 500)

        // The server commits but the answer never arrives: the relay must not move on, and the
        // resend must be a replay.
        proxy.mode = .dropResponse
        try waitUntil("the server commits the batch whose answer is lost", seconds: 20) {
            (try? stack.serverHolds())??.records ?? 0 > 500
        }
        let failuresBefore = stack.relayStatus?.failedAttempts ?? 0
        try waitUntil("the relay resends the unanswered batch", seconds: 10) {
            (stack.relayStatus?.failedAttempts ?? 0) >= failuresBefore + 2
        }
        #expect(stack.cursor == 500)
        proxy.mode = .pass
        try stack.waitForServer(records: sent, seconds: 20)
        try waitUntil("the relay hears the replay and moves its cursor", seconds: 20) { stack.cursor == UInt64(sent) }
        #expect((stack.relayStatus?.replayedBatches ?? 0) >= 1)
        _ = try stack.verifyServer(expected: sent)
    }

    @Test func serverAnswering503IsRetriedUntilItRecovers() throws {
        let stack = try TestStack("s503")
        try stack.startServer()
        try stack.startDaemon()
        try stack.enrollKey()
        let proxy = try ChaosProxy(upstreamPort: stack.serverPort)
        defer { proxy.close() }
        proxy.mode = .serviceUnavailable
        try stack.startRelay(serverURL: proxy.url)
        let sent = try stack.send(1000)
        try waitUntil("the relay backs off on 503", seconds: 10) {
            guard let status = stack.relayStatus else { return false }
            return status.state == .backingOff && (status.lastError ?? "").contains("503") && status.failedAttempts >= 3
        }
        #expect(try stack.serverHolds()?.records ?? 0 == 0)
        #expect(stack.cursor == 0)
        proxy.mode = .pass
        try stack.waitForServer(records: sent)
        _ = try stack.verifyServer(expected: sent)
    }

    @Test func revokedKeyStopsForwardingWithAClearStatusAndKeepsTheJournal() throws {
        let stack = try TestStack("revoke")
        try stack.startServer()
        try stack.startDaemon()
        try stack.enrollKey()
        try stack.startRelay()
        let first = try stack.send(500)
        try stack.waitForServer(records: first)
        try waitUntil("the cursor reaches \(first)", seconds: 5) { stack.cursor == UInt64(first) }
        try stack.revokeHost()
        let more = try stack.send(500)
        try waitUntil("the relay stops with the server's reason", seconds: 10) {
            guard let status = stack.relayStatus else { return false }
            return status.state == .stopped && (status.reason ?? "").contains("403")
                && (status.reason ?? "").contains("HOST_REVOKED")
        }
        // Nothing more is sent, nothing is skipped: cursor and server stay at the revocation point,
        // and every record is still in the journal.
        usleep(500_000)
        #expect(stack.cursor == UInt64(first))
        #expect(try stack.serverHolds()?.records == first)
        #expect(try stack.journalRecordCount() == first + more)
        #expect(stack.relay?.isRunning == true)
        #expect(stack.relay?.log.contains("forwarding stopped") == true)
        // The operator sees why in `ledgerctl status`, next to the daemon's own backlog.
        let (statusCode, statusText) = try runTool("ledgerctl", ["status", "--socket", stack.socketPath])
        #expect(statusCode == 0)
        #expect(statusText.contains("relay         stopped: 403 HOST_REVOKED"), "\(statusText)")
        #expect(statusText.contains("unforwarded backlog \(more) records"), "\(statusText)")
    }

    @Test func tamperedBatchIsRejectedAndTheCursorDoesNotAdvance() throws {
        let stack = try TestStack("tamper")
        try stack.startServer()
        try stack.startDaemon()
        try stack.enrollKey()
        let proxy = try ChaosProxy(upstreamPort: stack.serverPort)
        defer { proxy.close() }
        try stack.startRelay(serverURL: proxy.url)
        var sent = try stack.send(300)
        try stack.waitForServer(records: sent)
        try waitUntil("the cursor reaches \(sent)", seconds: 5) { stack.cursor == UInt64(sent) }

        proxy.mode = .tamper
        sent += try stack.send(300)
        try waitUntil("the server rejects the tampered batch", seconds: 10) {
            guard let status = stack.relayStatus else { return false }
            return status.state == .rejected && (status.lastError ?? "").hasPrefix("400")
        }
        #expect(stack.cursor == 300)
        #expect(try stack.serverHolds()?.records == 300)

        proxy.mode = .pass
        try stack.waitForServer(records: sent)
        _ = try stack.verifyServer(expected: sent)
    }
}
