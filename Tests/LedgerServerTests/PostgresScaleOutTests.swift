import Foundation
import LedgerCore
@testable import LedgerServer
import Testing

/// Several servers on one PostgreSQL database, and PostgreSQL restarting under a flow.
/// Skipped (with the loud message from `Backend.all`) where PostgreSQL is not installed.
@Suite("PostgreSQL: several servers, one database; database restarts", .serialized)
struct PostgresScaleOutTests {
    /// What one simulated relay saw.
    final class Tally: @unchecked Sendable {
        let lock = NSLock()
        var acknowledged = 0
        var statuses: [String: Int] = [:]
        var unexpected: [String] = []
        func add(_ key: String) { lock.lock(); statuses[key, default: 0] += 1; lock.unlock() }
        func ack() { lock.lock(); acknowledged += 1; lock.unlock() }
        func fail(_ text: String) { lock.lock(); unexpected.append(text); lock.unlock() }
        var acks: Int { lock.lock(); defer { lock.unlock() }; return acknowledged }
    }

    /// Sends `batch` like a relay: until a 200, switching server on a failure or a 503.
    static func deliver(_ batch: EncodedRelayBatch, to servers: [ServerProcess], first: Int, tally: Tally) {
        var target = first
        for _ in 0..<400 {
            let response = try? servers[target].postBatch(batch)
            switch response?.status {
            case 200:
                tally.add(response?.json["status"] as? String ?? "?")
                return
            case 503?:
                tally.add("503")
                if response?.error["code"] as? String != "UNAVAILABLE" { tally.fail("503 without UNAVAILABLE") }
            case nil:
                tally.add("no answer")
            case let status?:
                tally.fail("batch \(batch.batchSeq): \(status) \(response?.text ?? "")")
                return
            }
            target = (target + 1) % servers.count
            usleep(50_000)
        }
        tally.fail("batch \(batch.batchSeq) never acknowledged")
    }

    @Test(.enabled(if: Backend.all.contains(.postgres)))
    func twoServersTwentyRelaysKillNineMidwayLeaveEveryChainCompleteWithoutDuplicates() throws {
        let database = try PostgresCluster.shared().createDatabase()
        let a = try ServerProcess(database: database, hostID: "a:server")
        let b = try ServerProcess(database: database, hostID: "b:server")
        let servers = [a, b]
        let hostCount = 20, batchesPerHost = 12, batchSize = 50
        let hosts = try (0..<hostCount).map { SimulatedHost(hostID: "scale-\($0)", key: try Ed25519PrivateKey()) }
        for host in hosts { try a.enroll(host) }  // enrollment is shared: b accepts them too
        let plans = try hosts.map { host in try (0..<batchesPerHost).map { _ in try host.nextBatch(batchSize) } }

        let tally = Tally()
        let group = DispatchGroup()
        for (index, plan) in plans.enumerated() {
            group.enter()
            Thread {
                for (number, batch) in plan.enumerated() {
                    if number % 4 == 3 {
                        // The same batch to both servers at once: one stores it, the other must see it
                        // under the host's row lock and answer replay (never a fork or a duplicate).
                        let race = DispatchGroup()
                        for first in 0..<2 {
                            race.enter()
                            Thread { Self.deliver(batch, to: servers, first: first, tally: tally); race.leave() }.start()
                        }
                        race.wait()
                    } else {
                        Self.deliver(batch, to: servers, first: (index + number) % 2, tally: tally)
                    }
                    tally.ack()
                }
                group.leave()
            }.start()
        }
        // kill -9 one server midway through the flow.
        let total = hostCount * batchesPerHost
        while tally.acks < total / 2 { usleep(10_000) }
        a.kill9()
        group.wait()

        #expect(tally.unexpected.isEmpty, "\(tally.unexpected.prefix(5))")
        let reader = try b.createKey("reader", scopes: "read:events")
        let records = hostCount * batchesPerHost * batchSize
        let stats = try b.get("/v1/stats", key: reader).json
        #expect(stats["records"] as? Int == records)
        #expect(stats["incidents"] as? Int == 0)
        let verify = try b.get("/v1/verify", key: reader).json
        #expect(verify["valid"] as? Bool == true)
        #expect(verify["events_verified"] as? Int == records)
        #expect((verify["incidents"] as? [Any])?.isEmpty == true)
        #expect((verify["partial_chains"] as? [Any])?.isEmpty == true)
        let hostList = try b.get("/v1/hosts", key: reader).json["hosts"] as? [[String: Any]] ?? []
        let relayHosts = hostList.filter { ($0["host_id"] as? String)?.hasPrefix("scale-") == true }
        #expect(relayHosts.count == hostCount)
        #expect(relayHosts.allSatisfy { $0["host_seq"] as? Int == batchesPerHost * batchSize })
        // Every raced batch was answered twice with 200, and at least some of them as replays.
        #expect((tally.statuses["replay"] ?? 0) >= hostCount * (batchesPerHost / 4) / 2)
        // No record twice: a full export has exactly one line per stored record, ids unique.
        let export = try b.get("/v1/export", key: reader)
        let ids = export.body.split(separator: 0x0A).compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0))) as? [String: Any]
        }.compactMap { $0["id"] as? String }
        #expect(ids.count == records)
        #expect(Set(ids).count == records)
    }

    @Test(.enabled(if: Backend.all.contains(.postgres)))
    func postgresRestartDuringAFlowLosesNothingAcknowledged() throws {
        // Its own cluster: restarting the shared one would disturb the other tests.
        let cluster = try PostgresCluster()
        defer { cluster.stop() }
        let server = try ServerProcess(database: try cluster.createDatabase(), hostID: "restart:server")
        let host = SimulatedHost(hostID: "restarter", key: try Ed25519PrivateKey())
        try server.enroll(host)
        let batches = try (0..<60).map { _ in try host.nextBatch(20) }
        let tally = Tally()
        let done = DispatchSemaphore(value: 0)
        Thread {
            for batch in batches {
                Self.deliver(batch, to: [server], first: 0, tally: tally)
                tally.ack()
            }
            done.signal()
        }.start()
        while tally.acks < 15 { usleep(10_000) }
        let acknowledgedBeforeRestart = tally.acks
        try cluster.stopServer()
        // While the database is down, the server answers 503 (JSON), and /healthz says so too.
        usleep(300_000)
        let health = try server.get("/healthz")
        #expect(health.status == 503)
        #expect(health.error["code"] as? String == "UNAVAILABLE")
        try cluster.start()
        done.wait()

        #expect(tally.unexpected.isEmpty, "\(tally.unexpected.prefix(5))")
        #expect(acknowledgedBeforeRestart < batches.count)
        #expect((tally.statuses["503"] ?? 0) > 0, "the flow did run into the restart")
        let reader = try server.createKey("reader", scopes: "read:events")
        #expect(try server.get("/v1/stats", key: reader).json["records"] as? Int == 60 * 20)
        let verify = try server.get("/v1/verify", key: reader).json
        #expect(verify["valid"] as? Bool == true)
        #expect(verify["events_verified"] as? Int == 60 * 20)
        #expect((verify["incidents"] as? [Any])?.isEmpty == true)
        // Direct ingest works again on the reconnected pool.
        let writer = try server.createKey("writer", scopes: "write:events")
        #expect(try server.post("/v1/events", key: writer, json: #"{"agent_id":"after"}"#).status == 201)
    }
}
