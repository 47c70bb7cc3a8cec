import Foundation
import LedgerCore
@testable import LedgerServer
import Testing

/// Several batches of one host in flight at once (docs/FORMAT.md §5 "Predecessor", docs/SERVER.md
/// "Relay ingest"): the HostOrderGate holds a batch until its declared predecessor is stored, the
/// store refuses it (503) rather than recording a gap, and every wait ends.
@Suite("relay batches in flight together: per-host ordering")
struct RelayOrderingTests {
    /// Three batches of one host, each declaring the one before as its predecessor.
    static func pipelinedBatches(_ host: SimulatedHost, sizes: [Int]) throws -> [EncodedRelayBatch] {
        try sizes.map { size in
            let predecessor = host.chains.lastHostSeq
            return try RelayBatch.encode(lines: host.records(size), hostID: host.hostID, batchSeq: predecessor + 1,
                                         predecessorHostSeq: predecessor, key: host.key)
        }
    }

    /// Posts on its own thread; `wait()` gives the answer.
    final class PendingPost: @unchecked Sendable {
        private let done = DispatchSemaphore(value: 0)
        private var result: Result<ServerProcess.Response, Error> = .failure(TestFailure("no answer"))
        private(set) var seconds = 0.0
        init(_ server: ServerProcess, _ batch: EncodedRelayBatch, onFreshConnection: Bool = false) {
            Thread { [self] in
                let started = Date()
                result = Result {
                    try onFreshConnection ? server.postBatchOnFreshConnection(batch) : server.postBatch(batch)
                }
                seconds = Date().timeIntervalSince(started)
                done.signal()
            }.start()
        }
        func answered(within seconds: Double) -> Bool {
            guard done.wait(timeout: .now() + seconds) == .success else { return false }
            done.signal()
            return true
        }
        func wait() throws -> ServerProcess.Response {
            done.wait()
            done.signal()
            return try result.get()
        }
    }

    static func incidents(_ server: ServerProcess, _ reader: String, _ hostID: String) throws -> [[String: Any]] {
        try server.get("/v1/verify?host_id=\(hostID)", key: reader).json["incidents"] as? [[String: Any]] ?? []
    }

    @Test(arguments: Backend.all) func successorArrivingFirstWaitsAndBothAreStoredWithoutAGap(backend: Backend) throws {
        let server = try ServerProcess(backend: backend)
        let reader = try server.createKey("reader", scopes: "read:events")
        let host = SimulatedHost(hostID: "pipelined", key: try Ed25519PrivateKey())
        try server.enroll(host)
        let batches = try Self.pipelinedBatches(host, sizes: [400, 5, 5])
        // The small successors arrive first; without the gate the store would record 1…400 as lost.
        let third = PendingPost(server, batches[2])
        let second = PendingPost(server, batches[1])
        #expect(!second.answered(within: 0.5), "a successor must wait for its predecessor")
        #expect(!third.answered(within: 0))
        let first = try server.postBatch(batches[0])
        #expect(first.status == 200)
        for (pending, start) in [(second, 401), (third, 406)] {
            let response = try pending.wait()
            #expect(response.status == 200, "\(response.text)")
            #expect(response.json["status"] as? String == "stored")
            #expect(response.json["batch_seq"] as? Int == start)
            #expect((response.json["incidents"] as? [Any])?.isEmpty == true)
        }
        #expect(try Self.incidents(server, reader, "pipelined").isEmpty)
        let verify = try server.get("/v1/verify?host_id=pipelined", key: reader).json
        #expect(verify["valid"] as? Bool == true)
        #expect(verify["events_verified"] as? Int == 410)
        // A resend of all three (a relay restarted) is three replays.
        for batch in batches { #expect(try server.postBatch(batch).json["status"] as? String == "replay") }
    }

    @Test(arguments: Backend.all) func predecessorThatNeverArrivesEndsTheWaitWith503AndRetryAfter(backend: Backend) throws {
        let server = try ServerProcess(backend: backend, extraArguments: ["--order-wait", "700ms"])
        let reader = try server.createKey("reader", scopes: "read:events")
        let host = SimulatedHost(hostID: "orphan", key: try Ed25519PrivateKey())
        try server.enroll(host)
        let batches = try Self.pipelinedBatches(host, sizes: [5, 5])
        let started = Date()
        let held = try server.postBatch(batches[1])
        let waited = Date().timeIntervalSince(started)
        #expect(held.status == 503)
        #expect(held.error["code"] as? String == "PREDECESSOR_PENDING")
        #expect(held.headers["retry-after"] == "1")
        #expect(waited >= 0.6 && waited < 5, "waited \(waited) s")
        // Nothing stored, nothing recorded: it was not a gap.
        #expect(try server.get("/v1/stats", key: reader).json["records"] as? Int == 0)
        #expect(try Self.incidents(server, reader, "orphan").isEmpty)
        // Sent again in order, both are taken.
        #expect(try server.postBatch(batches[0]).status == 200)
        let again = try server.postBatch(batches[1])
        #expect(again.status == 200)
        #expect((again.json["incidents"] as? [Any])?.isEmpty == true)
        #expect(try server.get("/v1/verify?host_id=orphan", key: reader).json["valid"] as? Bool == true)
    }

    @Test(arguments: Backend.all) func failedPredecessorReleasesItsWaitersAtOnce(backend: Backend) throws {
        let server = try ServerProcess(backend: backend, extraArguments: ["--order-wait", "30s"])
        let reader = try server.createKey("reader", scopes: "read:events")
        let key = try Ed25519PrivateKey()
        let host = SimulatedHost(hostID: "forked", key: key)
        try server.enroll(host)
        #expect(try server.postBatch(try Self.pipelinedBatches(host, sizes: [5])[0]).status == 200)
        // 6…10 rewrites the host's chains (a fork, refused in the store); 11…15 waits for it.
        let other = SimulatedHost(hostID: "forked", key: key)
        _ = other.records(5, padding: 3)
        let forked = try Self.pipelinedBatches(other, sizes: [5])[0]
        _ = host.records(5)
        let successor = try Self.pipelinedBatches(host, sizes: [5])[0]
        let waiting = PendingPost(server, successor)
        #expect(!waiting.answered(within: 0.5))
        let fork = try server.postBatch(forked)
        #expect(fork.status == 409)
        #expect(waiting.answered(within: 5), "the waiter must not sit out its 30 s wait")
        let released = try waiting.wait()
        #expect(released.status == 503)
        #expect(released.error["code"] as? String == "PREDECESSOR_FAILED")
        #expect(released.headers["retry-after"] == "1")
        #expect(waiting.seconds < 5)
        #expect(try Self.incidents(server, reader, "forked").map { $0["kind"] as? String } == ["fork"])
        #expect(try server.get("/v1/stats", key: reader).json["records"] as? Int == 5)
    }

    /// With `--threads 2` (libmicrohttpd's pool, which binds each connection to one thread) a
    /// waiting batch must not hold a pool thread: more waiters than threads would take the whole
    /// pool, and the predecessor they wait for could not even be received before their waits ran
    /// out (docs/SERVER.md "Relay ingest").
    @Test func waitingBatchesLeaveThePoolToTheirPredecessor() throws {
        let server = try ServerProcess(extraArguments: ["--threads", "2", "--order-wait", "8s"])
        let reader = try server.createKey("reader", scopes: "read:events")
        let host = SimulatedHost(hostID: "pooled", key: try Ed25519PrivateKey())
        try server.enroll(host)
        let batches = try Self.pipelinedBatches(host, sizes: [5, 5, 5, 5, 5])
        var waiting: [PendingPost] = []
        for batch in batches.dropFirst() {
            let post = PendingPost(server, batch, onFreshConnection: true)
            // Received and waiting before the next one comes, as each of a relay's batches in flight.
            #expect(!post.answered(within: 0.4), "batch \(batch.batchSeq) must wait for host_seq 5")
            waiting.append(post)
        }
        let started = Date()
        let first = try server.postBatchOnFreshConnection(batches[0])
        let seconds = Date().timeIntervalSince(started)
        #expect(first.status == 200, "\(first.text)")
        #expect(seconds < 3, "the predecessor was answered after \(seconds) s, with four batches waiting for it")
        // As a relay does: a batch answered 503 with Retry-After is sent again, in order.
        for (post, batch) in zip(waiting, batches.dropFirst()) {
            var response = try post.wait()
            var attempts = 1
            while response.status == 503, response.headers["retry-after"] != nil, attempts < 30 {
                sleep(1)
                response = try server.postBatchOnFreshConnection(batch)
                attempts += 1
            }
            #expect(response.status == 200, "batch \(batch.batchSeq): \(response.text)")
        }
        #expect(try Self.incidents(server, reader, "pooled").isEmpty)
        let verify = try server.get("/v1/verify?host_id=pooled", key: reader).json
        #expect(verify["valid"] as? Bool == true)
        #expect(verify["events_verified"] as? Int == 25)
    }

    /// libmicrohttpd must not be stopped while a connection is suspended (it aborts): SIGTERM
    /// waits until the suspended batch is answered, here when its wait runs out, after the 10 s
    /// the server gives requests in flight.
    @Test func stopWaitsForTheSuspendedBatchToBeAnswered() throws {
        let server = try ServerProcess(extraArguments: ["--threads", "2", "--order-wait", "12s"])
        let host = SimulatedHost(hostID: "stopping", key: try Ed25519PrivateKey())
        try server.enroll(host)
        let batches = try Self.pipelinedBatches(host, sizes: [5, 5])
        let waiting = PendingPost(server, batches[1], onFreshConnection: true)
        #expect(!waiting.answered(within: 0.5))
        #expect(server.stop() == 0)
        let answer = try waiting.wait()
        #expect(answer.status == 503)
        #expect(answer.error["code"] as? String == "PREDECESSOR_PENDING")
    }

    @Test(arguments: Backend.all) func declaredPredecessorIsSignedAndStrict(backend: Backend) throws {
        let server = try ServerProcess(backend: backend)
        let host = SimulatedHost(hostID: "strict", key: try Ed25519PrivateKey())
        try server.enroll(host)
        let batch = try Self.pipelinedBatches(host, sizes: [3])[0]
        // Changed or stripped, the declaration no longer matches the v2 signature.
        #expect(try server.postBatch(batch, override: [RelayBatch.predecessorHeader: "0"]).status == 200)
        let next = try Self.pipelinedBatches(host, sizes: [3])[0]
        for lowered in ["0", "1", "2"] {
            let response = try server.postBatch(next, override: [RelayBatch.predecessorHeader: lowered])
            #expect(response.status == 401, "predecessor \(lowered)")
            #expect(response.error["code"] as? String == "BAD_SIGNATURE")
        }
        var stripped: [String: String] = [:]
        for (name, value) in next.headers where name != RelayBatch.predecessorHeader { stripped[name] = value }
        let unsigned = try server.request("POST", "/v1/relay/batches", headers: stripped, body: next.compressedBody)
        #expect(unsigned.status == 401)
        for malformed in ["", "03", "-1", "4", "5", "x"] {
            let response = try server.postBatch(next, override: [RelayBatch.predecessorHeader: malformed])
            #expect(response.status == 400, "predecessor \"\(malformed)\"")
            #expect(response.error["code"] as? String == "BAD_PREDECESSOR")
        }
        #expect(try server.postBatch(next).status == 200)
    }

    @Test(arguments: Backend.all) func declaredPredecessorAcrossAJournalGapStillRecordsTheGap(backend: Backend) throws {
        let server = try ServerProcess(backend: backend)
        let reader = try server.createKey("reader", scopes: "read:events")
        let host = SimulatedHost(hostID: "lossy", key: try Ed25519PrivateKey())
        try server.enroll(host)
        #expect(try server.postBatch(try Self.pipelinedBatches(host, sizes: [5])[0]).status == 200)
        _ = host.records(3)  // lost on the host: the relay read 5, then 9
        let after = try RelayBatch.encode(lines: host.records(4), hostID: "lossy", batchSeq: 9,
                                          predecessorHostSeq: 5, key: host.key)
        let response = try server.postBatch(after)
        #expect(response.status == 200)
        let kinds = (response.json["incidents"] as? [[String: Any]] ?? []).compactMap { $0["kind"] as? String }
        #expect(kinds.contains("host_gap"))
        // Recorded as the gap it is (its chains skip too: sequence_gap incidents beside it).
        #expect(try Self.incidents(server, reader, "lossy").contains { $0["kind"] as? String == "host_gap" })
    }

    /// Two servers on one database (docs/OPERATIONS.md §9): the gate is per process, so a batch
    /// reaching server B before its predecessor committed on server A waits (B polls the store)
    /// and is stored after it, without a gap.
    @Test func successorOnAnotherServerWaitsForThePredecessorCommittedElsewhere() throws {
        guard Backend.all.contains(.postgres) else { return }
        let a = try ServerProcess(backend: .postgres)
        let b = try ServerProcess(database: a.database, hostID: "test:server-b")
        let reader = try a.createKey("reader", scopes: "read:events")
        let host = SimulatedHost(hostID: "roaming", key: try Ed25519PrivateKey())
        try a.enroll(host)
        let batches = try Self.pipelinedBatches(host, sizes: [200, 5])
        let second = PendingPost(b, batches[1])
        #expect(!second.answered(within: 0.5))
        #expect(try a.postBatch(batches[0]).status == 200)
        let response = try second.wait()
        #expect(response.status == 200, "\(response.text)")
        #expect((response.json["incidents"] as? [Any])?.isEmpty == true)
        #expect(try Self.incidents(a, reader, "roaming").isEmpty)
        #expect(try a.get("/v1/verify?host_id=roaming", key: reader).json["valid"] as? Bool == true)
    }
}
