import Foundation
import LedgerCore
@testable import LedgerServer
import Testing

// A relay batch is verified against the host's row when it arrives, then may wait for its
// predecessor or the writer. A revocation or key rotation in between must still stop it: the
// store reads `revoked` and `public_key` again in the batch's transaction.

@Suite("a host revoked or re-keyed while its batch is in flight")
struct HostChangeInFlightTests {
    @Test(arguments: Backend.all) func aBatchVerifiedWithTheOldKeyIsRefusedAfterARotation(backend: Backend) throws {
        let server = try ServerProcess(backend: backend, extraArguments: ["--order-wait", "30s"])
        let reader = try server.createKey("r", scopes: "read:events")
        let oldKey = try Ed25519PrivateKey()
        let host = SimulatedHost(hostID: "rekeyed", key: oldKey)
        try server.enroll(host)
        let firstLines = host.records(2)
        let secondLines = host.records(3)
        let second = try RelayBatch.encode(lines: secondLines, hostID: "rekeyed", batchSeq: 3, predecessorHostSeq: 2,
                                           key: oldKey)
        let answer = ServerProcess.ResultBox()
        Thread {
            answer.result = Result { try server.postBatch(second) }
            answer.done.signal()
        }.start()
        // Verified with the old key, it now waits for host_seq 2.
        usleep(2_000_000)
        let newKey = try Ed25519PrivateKey()
        #expect(try server.cli(["hosts", "rotate", "rekeyed", newKey.publicKey.base64]).0 == 0)
        let first = try RelayBatch.encode(lines: firstLines, hostID: "rekeyed", batchSeq: 1, predecessorHostSeq: 0,
                                          key: newKey)
        #expect(try server.postBatch(first).status == 200)
        answer.done.wait()
        let refused = try answer.result.get()
        #expect(refused.status == 401)
        #expect(refused.error["code"] as? String == "KEY_CHANGED")
        #expect(refused.error["message"] as? String
                == "the key of host rekeyed changed while this batch was in flight; it was signed with the old key")
        let hosts = try server.get("/v1/hosts", key: reader).json["hosts"] as? [[String: Any]] ?? []
        #expect(hosts.first { $0["host_id"] as? String == "rekeyed" }?["host_seq"] as? Int == 2)
        // Signed again with the new key, the same records go in.
        let resigned = try RelayBatch.encode(lines: secondLines, hostID: "rekeyed", batchSeq: 3,
                                             predecessorHostSeq: 2, key: newKey)
        let stored = try server.postBatch(resigned)
        #expect(stored.status == 200)
        #expect(stored.json["stored"] as? Int == 3)
    }

    /// Revocation between verification and the transaction, on the store the route hands the
    /// batch to (over HTTP the window cannot be hit on purpose: a revoked predecessor is refused
    /// before its successor could be released).
    @Test(arguments: Backend.all) func aBatchVerifiedBeforeARevocationIsNotStored(backend: Backend) throws {
        var settings = LedgerServer.Settings()
        settings.dataDirectory = NSTemporaryDirectory() + "ledger-revoked-" + UUID().uuidString
        if backend == .postgres { settings.database = try PostgresCluster.shared().createDatabase() }
        let store = try LedgerServer.openStore(settings)
        defer { store.close(); try? FileManager.default.removeItem(atPath: settings.dataDirectory) }
        let host = SimulatedHost(hostID: "revoked-late", key: try Ed25519PrivateKey())
        let key = host.key.publicKey.base64
        try store.addHost(id: host.hostID, publicKey: key)
        func batch(_ lines: [[UInt8]]) throws -> VerifiedRelayBatch {
            var batch = try PostgresStoreTests.batch(host.hostID, lines)
            batch.verifiedPublicKey = key
            return batch
        }
        let lines = host.records(4)
        #expect(try store.appendRelayBatch(try batch(Array(lines[..<2]))) == .stored(records: 2, replayed: 0, incidents: []))
        let inFlight = try batch(Array(lines[2...]))
        #expect(try store.revokeHost(id: host.hostID))
        #expect(throws: StoreError.hostRevoked(host.hostID)) { try store.appendRelayBatch(inFlight) }
        #expect(try store.host(id: host.hostID)?.lastHostSeq == 2)
        #expect(try store.stats().records == 2)
        // Rotation re-activates the host with another key: the batch verified with the old one is still refused.
        let other = try Ed25519PrivateKey()
        #expect(try store.rotateHostKey(id: host.hostID, publicKey: other.publicKey.base64))
        #expect(throws: StoreError.hostKeyChanged(host.hostID)) { try store.appendRelayBatch(inFlight) }
        #expect(try store.stats().records == 2)
    }
}
