@testable import LedgerRelay
import Testing

@Suite struct DeliveryRulesTests {
    private func answer(_ status: Int, _ json: String = "") -> HTTPOutcome {
        .response(status: status, body: Array(json.utf8))
    }

    @Test func onlyA2xxForTheSameRangeAdvancesTheCursor() {
        #expect(ServerVerdict.classify(answer(200, #"{"status":"stored","last_host_seq":10}"#), lastHostSeq: 10)
                == .delivered(replay: false))
        #expect(ServerVerdict.classify(answer(200, #"{"status":"replay","last_host_seq":10}"#), lastHostSeq: 10)
                == .delivered(replay: true))
        guard case .stop(_, "RANGE_MISMATCH", _) = ServerVerdict.classify(
            answer(200, #"{"status":"stored","last_host_seq":9}"#), lastHostSeq: 10) else {
            Issue.record("a 2xx for another range must not advance the cursor")
            return
        }
    }

    /// A proxy's catch-all, a captive portal or another service behind --server: a 2xx that is
    /// not ledger-server's acknowledgement of this batch must never move the cursor.
    @Test func a2xxThatIsNotTheServersAcknowledgementStopsForwarding() {
        let unrecognised = [answer(204), answer(200, "<html>ok</html>"), answer(200, #"{"status":"ok"}"#),
                            answer(200, #"{"status":"stored"}"#), answer(200, "[10]"),
                            answer(201, #"{"status":"queued","last_host_seq":10}"#)]
        for outcome in unrecognised {
            guard case .stop(_, "UNRECOGNISED_2XX", let message) = ServerVerdict.classify(outcome, lastHostSeq: 10)
            else {
                Issue.record("\(outcome) must stop forwarding")
                continue
            }
            #expect(message.contains("check --server"))
        }
        let otherHost = answer(200, #"{"status":"stored","host_id":"web-2","batch_seq":1,"last_host_seq":10}"#)
        guard case .stop(_, "HOST_MISMATCH", _) = ServerVerdict.classify(otherHost, lastHostSeq: 10, firstHostSeq: 1,
                                                                         hostID: "web-1") else {
            Issue.record("an acknowledgement of another host's batch must stop forwarding")
            return
        }
        let otherStart = answer(200, #"{"status":"stored","host_id":"web-1","batch_seq":5,"last_host_seq":10}"#)
        guard case .stop(_, "RANGE_MISMATCH", _) = ServerVerdict.classify(otherStart, lastHostSeq: 10, firstHostSeq: 1,
                                                                          hostID: "web-1") else {
            Issue.record("an acknowledgement of another range must stop forwarding")
            return
        }
        let real = answer(200, #"{"status":"stored","host_id":"web-1","batch_seq":1,"last_host_seq":10}"#)
        #expect(ServerVerdict.classify(real, lastHostSeq: 10, firstHostSeq: 1, hostID: "web-1")
                == .delivered(replay: false))
    }

    @Test func transientFailuresAreRetried() {
        for status in [408, 425, 429, 500, 502, 503, 504] {
            guard case .retry = ServerVerdict.classify(answer(status), lastHostSeq: 1) else {
                Issue.record("\(status) must be retried")
                continue
            }
        }
        guard case .retry = ServerVerdict.classify(.failed("connection refused"), lastHostSeq: 1) else {
            Issue.record("no answer must be retried")
            return
        }
    }

    @Test func retryAfterIsPassedOnWithTheRetry() {
        let busy = HTTPOutcome.response(status: 429, body: [], details: HTTPResponseDetails(retryAfterSeconds: 7))
        guard case .retry(_, retryAfterMillis: 7_000) = ServerVerdict.classify(busy, lastHostSeq: 1) else {
            Issue.record("429 with Retry-After: 7 must wait 7 s")
            return
        }
        guard case .retry(_, retryAfterMillis: nil) = ServerVerdict.classify(answer(503), lastHostSeq: 1) else {
            Issue.record("503 without Retry-After leaves the delay to the backoff")
            return
        }
    }

    @Test func keyRevocationAndForkStopForwardingWithTheServersReason() {
        let revoked = answer(403, #"{"error":{"code":"HOST_REVOKED","message":"host h is revoked"}}"#)
        #expect(ServerVerdict.classify(revoked, lastHostSeq: 1)
                == .stop(status: 403, code: "HOST_REVOKED", message: "host h is revoked"))
        for status in [401, 409] {
            guard case .stop(status, _, _) = ServerVerdict.classify(answer(status), lastHostSeq: 1) else {
                Issue.record("\(status) must stop forwarding")
                continue
            }
        }
    }

    @Test func aDamagedBatchIsRejectedNotSkipped() {
        let damaged = answer(400, #"{"error":{"code":"BAD_COMPRESSION","message":"corrupt"}}"#)
        #expect(ServerVerdict.classify(damaged, lastHostSeq: 1) == .rejected("400 BAD_COMPRESSION: corrupt"))
    }

    /// Resending the same request cannot change these answers; looping on them held every later
    /// record back with nothing but `rejected` in the status.
    @Test func answersThatRetryingCannotChangeStopWithWhatToFix() {
        let redirect = HTTPOutcome.response(status: 301, body: [],
                                            details: HTTPResponseDetails(location: "https://ledger.example/"))
        guard case let .stop(301, "REDIRECTED", message) = ServerVerdict.classify(redirect, lastHostSeq: 1) else {
            Issue.record("a redirect must stop forwarding")
            return
        }
        #expect(message.contains("https://ledger.example/") && message.contains("--server"))
        for status in [404, 405] {
            guard case let .stop(_, "WRONG_ENDPOINT", message) = ServerVerdict.classify(answer(status), lastHostSeq: 1)
            else {
                Issue.record("\(status) must stop forwarding")
                continue
            }
            #expect(message.contains("--server"))
        }
        guard case .stop(415, "UNSUPPORTED_ENCODING", _) = ServerVerdict.classify(answer(415), lastHostSeq: 1) else {
            Issue.record("415 must stop forwarding")
            return
        }
    }

    @Test func a413CutsTheBatchesAgainUnlessItHoldsOneRecord() {
        let tooLarge = answer(413, #"{"error":{"code":"BATCH_TOO_LARGE","message":"too big"}}"#)
        guard case let .tooLarge(message) = ServerVerdict.classify(tooLarge, lastHostSeq: 20, firstHostSeq: 11,
                                                                   wireBytes: 5000) else {
            Issue.record("413 for several records must make the relay cut smaller batches")
            return
        }
        #expect(message.contains("413") && message.contains("5000 bytes"))
        guard case let .stop(413, "RECORD_TOO_LARGE", reason) = ServerVerdict.classify(
            answer(413), lastHostSeq: 11, firstHostSeq: 11, wireBytes: 5000) else {
            Issue.record("413 for one record must stop forwarding")
            return
        }
        #expect(reason.contains("host_seq 11") && reason.contains("raise the limit"))
    }

    @Test func batchBytesAboveWhatTheServerTakesIsRefusedAtStart() throws {
        func configuration(_ batchBytes: String) throws -> RelayConfiguration {
            try RelayConfiguration(RelayConfiguration.spec.parse(
                ["--server", "http://127.0.0.1:1", "--batch-bytes", batchBytes], environment: ["LEDGER_CONFIG": "/dev/null"]))
        }
        #expect(try configuration("64MiB").batchBytes == 64 << 20)
        #expect(throws: RelayError.configuration("--batch-bytes must be at most 64MiB (ledger-server's default "
                                                 + "--max-batch-bytes; larger batches are refused with 413), not "
                                                 + "\((64 << 20) + 1)")) {
            try configuration("\((64 << 20) + 1)")
        }
    }

    @Test func aProgressIntervalThatWouldSpinTheMainLoopIsRefusedAtStart() throws {
        func configuration(_ interval: String) throws -> RelayConfiguration {
            try RelayConfiguration(RelayConfiguration.spec.parse(
                ["--server", "http://127.0.0.1:1", "--progress-interval", interval],
                environment: ["LEDGER_CONFIG": "/dev/null"]))
        }
        #expect(try configuration("100ms").progressIntervalMillis == 100)
        for interval in ["0", "0s", "99ms"] {
            #expect(throws: RelayError.self, "--progress-interval \(interval)") { try configuration(interval) }
        }
        #expect(throws: RelayError.configuration("--progress-interval must be at least 100ms, not 0ms")) {
            try configuration("0s")
        }
    }

    @Test func backoffGrowsExponentiallyWithFullJitterUpToTheCap() {
        var backoff = Backoff(initialMillis: 100, capMillis: 30_000)
        var generator = SystemRandomNumberGenerator()
        var bounds: [Int] = []
        for _ in 0..<12 {
            let bound = backoff.currentBoundMillis
            bounds.append(bound)
            let delay = backoff.nextDelayMillis(using: &generator)
            #expect(delay >= 0 && delay <= bound)
        }
        #expect(bounds.prefix(5) == [100, 200, 400, 800, 1600])
        #expect(bounds.last == 30_000)
        backoff.reset()
        #expect(backoff.currentBoundMillis == 100)
        for _ in 0..<100 { _ = backoff.nextDelayMillis(using: &generator) }
        #expect(backoff.currentBoundMillis == 30_000)
    }

    @Test func statusDocumentRoundTripsForLedgerctl() {
        var status = RelayStatus()
        status.state = .stopped
        status.reason = "403 HOST_REVOKED: host h is revoked"
        status.ackedHostSeq = 500
        status.durableHostSeq = 1000
        status.lastError = status.reason
        let decoded = RelayStatus.decode(status.encoded())
        #expect(decoded?.state == .stopped)
        #expect(decoded?.reason == status.reason)
        #expect(decoded?.recordsBehind == 500)
        #expect(decoded?.summaryLines().first == "relay         stopped: 403 HOST_REVOKED: host h is revoked")
    }
}
