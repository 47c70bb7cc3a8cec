// End-to-end: the real ledgerd, ledger-relay and ledger-server, with an HTTPResponder
// between relay and server giving the answers a proxy, a wrong --server or a slow link
// give. Part of RelayEndToEndTests so that it runs serialized with the other stacks.

import Foundation
import Glibc
import LedgerJournal
import LedgerPosix
@testable import LedgerRelay
import Testing

extension RelayEndToEndTests {
    /// A proxy's catch-all 204, an HTML page, JSON that is not ledger-server's: none of them
    /// may move the cursor; the relay stops with the reason, and after the operator fixed the
    /// path and sent SIGHUP every record arrives exactly once.
    @Test(arguments: [(204, ""), (200, "<html><body>Welcome to the network</body></html>"),
                      (200, #"{"status":"ok"}"#)])
    func a2xxThatIsNotLedgerServersAnswerStopsForwardingAndMovesNothing(status: Int, body: String) throws {
        let stack = try TestStack("bad2xx")
        try stack.startServer()
        try stack.startDaemon()
        try stack.enrollKey()
        let responder = try HTTPResponder(upstreamPort: stack.serverPort)
        defer { responder.close() }
        responder.handler = { _ in .answer(status: status, headers: ["Content-Type: text/html"], body: body) }
        try stack.startRelay(serverURL: responder.url)
        let sent = try stack.send(300)
        try waitUntil("the relay stops on an answer that is not the server's", seconds: 10) {
            guard let status = stack.relayStatus else { return false }
            return status.state == .stopped && (status.reason ?? "").contains("UNRECOGNISED_2XX")
        }
        let requestsAtStop = responder.requests
        usleep(500_000)
        #expect(stack.cursor == 0)
        #expect(responder.requests == requestsAtStop, "a stopped relay sent more batches")
        #expect(stack.relay?.log.contains("forwarding stopped") == true)
        let (code, text) = try runTool("ledgerctl", ["status", "--socket", stack.socketPath])
        #expect(code == 0)
        #expect(text.contains("relay         stopped: \(status) UNRECOGNISED_2XX"), "\(text)")
        #expect(text.contains("check --server"), "\(text)")
        #expect(text.contains("unforwarded backlog \(sent) records"), "\(text)")

        // The operator fixed the path: nothing was skipped.
        responder.handler = { _ in .forward }
        stack.relay?.signal(SIGHUP)
        try stack.waitForServer(records: sent, seconds: 20)
        try waitUntil("the cursor reaches \(sent)", seconds: 10) { stack.cursor == UInt64(sent) }
        _ = try stack.verifyServer(expected: sent)
    }

    /// A server (or proxy) answering 429 with Retry-After: 2 is not asked again sooner.
    /// A 2xx to enrollment that is not ledger-server's (a proxy's catch-all) must not write the
    /// marker: the token is sent again at the next start, where the real server enrolls the key.
    @Test func anEnrollmentAnswerThatIsNotTheServersLeavesNoMarker() throws {
        let stack = try TestStack("fakeenroll")
        try stack.startServer()
        try stack.startDaemon()
        let token = try stack.enrollmentToken()
        let responder = try HTTPResponder(upstreamPort: stack.serverPort)
        defer { responder.close() }
        responder.handler = { request in
            request.path.hasSuffix("/enroll") ? .answer(status: 200, headers: [], body: #"{"status":"ok"}"#) : .forward
        }
        try stack.startRelay(serverURL: responder.url, ["--enroll-token", token])
        let sent = try stack.send(20)
        try waitUntil("the relay stops: the server does not know the key", seconds: 10) {
            stack.relayStatus?.state == .stopped
        }
        #expect(!FileSystem.exists(stack.stateDirectory + "/enrolled"), "a proxy's 200 was taken for enrollment")
        #expect(stack.relay?.log.contains("enrollment not confirmed") == true)

        responder.handler = { _ in .forward }
        stack.relay?.terminate()
        try stack.startRelay(serverURL: responder.url, ["--enroll-token", token])
        try stack.waitForServer(records: sent, seconds: 20)
        try waitUntil("the marker is written", seconds: 5) { FileSystem.exists(stack.stateDirectory + "/enrolled") }
    }

    @Test func retryAfterIsHonouredBetweenAttempts() throws {
        let stack = try TestStack("retryafter")
        try stack.startServer()
        try stack.startDaemon()
        try stack.enrollKey()
        let responder = try HTTPResponder(upstreamPort: stack.serverPort)
        defer { responder.close() }
        let times = RequestTimes()
        responder.handler = { _ in
            times.add(Date()) <= 3
                ? .answer(status: 429, headers: ["Retry-After: 2"], body: #"{"error":{"code":"BUSY","message":"later"}}"#)
                : .forward
        }
        let sent = try stack.send(10)
        try stack.startRelay(serverURL: responder.url, ["--in-flight", "1", "--backoff-max", "5s"])
        try stack.waitForServer(records: sent, seconds: 30)
        let seen = times.all
        #expect(seen.count >= 4)
        for index in 1..<min(seen.count, 4) {
            let gap = seen[index].timeIntervalSince(seen[index - 1])
            #expect(gap >= 1.9, "attempt \(index + 1) came \(gap) s after a 429 with Retry-After: 2")
        }
    }

    /// A proxy with a body size limit (nginx's client_max_body_size) answers 413 to the large
    /// batches of a backlog. The relay cuts the batches again, smaller, from the refused one, with
    /// several in flight, and every record arrives exactly once.
    @Test func batchesAProxyRefusesAsTooLargeAreCutAgainAndEverythingArrivesOnce() throws {
        let stack = try TestStack("recut")
        try stack.startServer()
        try stack.startDaemon()
        try stack.enrollKey()
        let responder = try HTTPResponder(upstreamPort: stack.serverPort)
        defer { responder.close() }
        let limit = 6_000
        responder.handler = { request in
            request.body.count > limit
                ? .answer(status: 413, headers: ["Content-Type: text/html"], body: "<html>413 Request Entity Too Large</html>")
                : .forward
        }
        // A backlog, so that the first batches are as large as --batch-bytes allows.
        let sent = try stack.send(3000)
        try stack.startRelay(serverURL: responder.url, ["--in-flight", "4"])
        try stack.waitForServer(records: sent, seconds: 90)
        _ = try stack.verifyServer(expected: sent)
        try waitUntil("the cursor reaches \(sent)", seconds: 10) { stack.cursor == UInt64(sent) }
        #expect(stack.relay?.log.contains("cutting the journal again") == true)
        try waitUntil("the status says forwarding again", seconds: 5) { stack.relayStatus?.state == .forwarding }
    }

    /// One record that no limit lets through: the relay stops and says which record and what to
    /// raise; once the limit is raised, SIGHUP sends everything.
    @Test func aRecordTooLargeForTheProxyStopsForwardingWithWhatToRaise() throws {
        let stack = try TestStack("toolarge")
        try stack.startServer()
        try stack.startDaemon()
        try stack.enrollKey()
        let responder = try HTTPResponder(upstreamPort: stack.serverPort)
        defer { responder.close() }
        responder.handler = { request in
            request.body.count > 100 ? .answer(status: 413, headers: [], body: "") : .forward
        }
        let sent = try stack.send(50)
        try stack.startRelay(serverURL: responder.url)
        try waitUntil("the relay stops on a record it cannot cut smaller", seconds: 20) {
            guard let status = stack.relayStatus else { return false }
            return status.state == .stopped && (status.reason ?? "").contains("413 RECORD_TOO_LARGE")
        }
        // Every record is over the proxy's limit and batches go several at a time, so the first
        // single-record batch answered names the record: any of them, but one, by its host_seq.
        let reason = stack.relayStatus?.reason ?? ""
        #expect((1...sent).contains { reason.contains("host_seq \($0) alone") }, "\(reason)")
        #expect(stack.relayStatus?.reason?.contains("raise the limit") == true)
        #expect(stack.cursor == 0)
        #expect(try stack.serverHolds()?.records ?? 0 == 0)

        responder.handler = { _ in .forward }
        stack.relay?.signal(SIGHUP)
        try stack.waitForServer(records: sent, seconds: 30)
        _ = try stack.verifyServer(expected: sent)
        try waitUntil("the cursor reaches \(sent)", seconds: 10) { stack.cursor == UInt64(sent) }
    }

    /// Answers that no resend can change (a redirect, nothing at the path) stop forwarding with
    /// what to fix, instead of resending the same batch forever.
    @Test(arguments: [(301, ["Location: https://ledger.example:7600/"], "REDIRECTED", "https://ledger.example:7600/"),
                      (404, [], "WRONG_ENDPOINT", "check --server")])
    func anAnswerThatNoResendCanChangeStopsForwardingWithTheCause(status: Int, headers: [String], code: String,
                                                                 shown: String) throws {
        let stack = try TestStack("wrongplace")
        try stack.startServer()
        try stack.startDaemon()
        try stack.enrollKey()
        let responder = try HTTPResponder(upstreamPort: stack.serverPort)
        defer { responder.close() }
        responder.handler = { _ in .answer(status: status, headers: headers, body: "") }
        try stack.startRelay(serverURL: responder.url)
        try stack.send(20)
        try waitUntil("the relay stops with \(code)", seconds: 10) { stack.relayStatus?.state == .stopped }
        let requests = responder.requests
        usleep(500_000)
        #expect(responder.requests == requests, "a stopped relay sent more batches")
        let (exit, text) = try runTool("ledgerctl", ["status", "--socket", stack.socketPath])
        #expect(exit == 0)
        #expect(text.contains("relay         stopped: \(status) \(code)") && text.contains(shown), "\(text)")
        #expect(stack.cursor == 0)
    }
}

/// When the responder saw each request (its handler runs on several threads).
final class RequestTimes: @unchecked Sendable {
    private let lock = NSLock()
    private var times: [Date] = []

    /// Records one request; returns how many there were so far.
    func add(_ date: Date) -> Int {
        lock.lock()
        defer { lock.unlock() }
        times.append(date)
        return times.count
    }

    var all: [Date] {
        lock.lock()
        defer { lock.unlock() }
        return times
    }
}
