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
}
