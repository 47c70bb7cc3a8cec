// The relay's libcurl client against a real HTTP server on loopback (HTTPResponder):
// what ends a request, and what it reads from an answer.

import Foundation
@testable import LedgerRelay
import Testing

@Suite(.serialized) struct HTTPClientTests {
    private func post(_ client: HTTPClient, _ url: String, bytes: Int) -> (HTTPOutcome, Double) {
        let body = [UInt8](repeating: 0x61, count: bytes)
        let started = Date()
        let outcome = body.withUnsafeBytes { client.post(url: url + "/v1/relay/batches", headers: [], body: $0) }
        return (outcome, Date().timeIntervalSince(started))
    }

    private static let stored = #"{"status":"stored","last_host_seq":1}"#

    /// A slow uplink: the body keeps moving, so the request must not end however long the
    /// upload takes. (A fixed whole-request timeout failed it on every attempt: a batch larger
    /// than timeout × link speed was never delivered.) The body is larger than what loopback's
    /// kernel buffers take at once, so the upload really runs at the responder's pace: ~3.5 s
    /// against a 1.5 s request timeout.
    @Test func aSlowUploadThatKeepsMovingIsNotCutShort() throws {
        let responder = try HTTPResponder(readRate: 4 << 20)
        defer { responder.close() }
        responder.handler = { _ in .answer(status: 200, headers: [], body: Self.stored) }
        let client = try HTTPClient(connectTimeoutMillis: 2_000, requestTimeoutMillis: 1_500, caFile: nil)
        let (outcome, seconds) = post(client, responder.url, bytes: 14 << 20)
        guard case .response(200, _, _) = outcome else {
            Issue.record("a slow but moving upload failed after \(seconds) s: \(outcome)")
            return
        }
        #expect(seconds > 1.5, "the upload was not slow (\(seconds) s): the test shows nothing")
        #expect(responder.largestBody == 14 << 20)
    }

    /// A black hole (nothing read, nothing answered) still ends the request after about the request timeout.
    @Test func aStalledRequestEndsAfterTheRequestTimeout() throws {
        let responder = try HTTPResponder()
        defer { responder.close() }
        responder.handler = { _ in .hang }
        let client = try HTTPClient(connectTimeoutMillis: 2_000, requestTimeoutMillis: 1_000, caFile: nil)
        let (outcome, seconds) = post(client, responder.url, bytes: 1_000)
        guard case .failed = outcome else {
            Issue.record("a request nobody answers must fail: \(outcome)")
            return
        }
        #expect(seconds < 6, "a stalled request took \(seconds) s to end")
    }

    /// A peer that trickles its answer never looks stalled; the whole-request bound ends it.
    @Test func aTricklingAnswerIsEndedByTheWholeRequestBound() throws {
        let responder = try HTTPResponder()
        defer { responder.close() }
        responder.handler = { _ in .trickle(body: String(repeating: " ", count: 200), intervalMillis: 100) }
        let client = try HTTPClient(connectTimeoutMillis: 2_000, requestTimeoutMillis: 1_000, caFile: nil)
        let (outcome, seconds) = post(client, responder.url, bytes: 100)
        guard case .failed = outcome else {
            Issue.record("a trickling answer must end at the whole-request bound: \(outcome) after \(seconds) s")
            return
        }
        #expect(seconds < 6)
    }

    /// libcurl refuses a string option longer than 8,000,000 bytes: the relay's error names the
    /// option and the flag behind it. (The old error path freed the handle and the error buffer,
    /// read the buffer after freeing it, and deinit freed both again.)
    @Test func anOptionLibcurlRefusesIsNamedAndNothingIsFreedTwice() {
        let absurdPath = "/" + String(repeating: "a", count: 8_000_001)
        do {
            _ = try HTTPClient(connectTimeoutMillis: 1_000, requestTimeoutMillis: 1_000, caFile: absurdPath)
            Issue.record("libcurl took a CA path of 8 MB")
        } catch {
            let text = "\(error)"
            #expect(text.contains("libcurl refused CURLOPT_CAINFO (--ca-file)"), "\(text)")
            #expect(text.allSatisfy { $0.isASCII && !$0.isNewline }, "\(text)")
        }
        // The allocator notices a double free at the next allocations of that size, if not at once.
        for _ in 0..<100 { _ = [CChar](repeating: 0, count: 257) }
    }

    @Test func retryAfterIsReadInSecondsAndAsADate() throws {
        let responder = try HTTPResponder()
        defer { responder.close() }
        let client = try HTTPClient(connectTimeoutMillis: 2_000, requestTimeoutMillis: 2_000, caFile: nil)
        responder.handler = { _ in .answer(status: 429, headers: ["Retry-After: 7"], body: "") }
        guard case let .response(429, _, details) = post(client, responder.url, bytes: 10).0 else {
            Issue.record("no 429")
            return
        }
        #expect(details.retryAfterSeconds == 7)
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        let date = formatter.string(from: Date().addingTimeInterval(30))
        responder.handler = { _ in .answer(status: 503, headers: ["Retry-After: \(date)"], body: "") }
        guard case let .response(503, _, dated) = post(client, responder.url, bytes: 10).0 else {
            Issue.record("no 503")
            return
        }
        #expect((25...31).contains(dated.retryAfterSeconds ?? 0), "\(dated)")
        responder.handler = { _ in .answer(status: 503, headers: [], body: "") }
        guard case let .response(503, _, none) = post(client, responder.url, bytes: 10).0 else {
            Issue.record("no 503")
            return
        }
        #expect(none.retryAfterSeconds == nil)
    }

    @Test func theWholeRequestBoundGrowsWithTheBody() {
        #expect(HTTPClient.wholeRequestMillis(requestTimeoutMillis: 30_000, bodyBytes: 0) == 30_000)
        // 2 MB at 8 kbit/s: 2,048 s on top of the request timeout.
        #expect(HTTPClient.wholeRequestMillis(requestTimeoutMillis: 30_000, bodyBytes: 2 << 20) == 30_000 + 2_048_000)
    }
}
