import Foundation
import LedgerCore
@testable import LedgerServer
import Testing

// The admin CLI works on the same --data-dir while the server runs; the server looks hosts
// and keys up on every request, so each change must show on the very next request.

@Suite("admin changes on a running server take effect at once")
struct RunningServerAdminTests {
    @Test func hostsAddOnARunningServerIsAcceptedByTheNextBatch() throws {
        let server = try ServerProcess()
        let host = SimulatedHost(hostID: "late-enrolled", key: try Ed25519PrivateKey())
        let batch = try host.nextBatch(2)
        let before = try server.postBatch(batch)
        #expect(before.status == 401)
        #expect(before.error["code"] as? String == "UNKNOWN_HOST")
        #expect(before.error["message"] as? String == "the host is not enrolled")
        try server.enroll(host)
        let after = try server.postBatch(batch)
        #expect(after.status == 200)
        #expect(after.json["status"] as? String == "stored")
        #expect(after.json["stored"] as? Int == 2)
    }

    @Test func revokedHostIsRefusedAtOnceAfterItsBatchesWereAccepted() throws {
        let server = try ServerProcess()
        let reader = try server.createKey("r", scopes: "read:events")
        let host = SimulatedHost(hostID: "to-revoke", key: try Ed25519PrivateKey())
        try server.enroll(host)
        #expect(try server.postBatch(try host.nextBatch(3)).status == 200)
        let (status, output) = try server.cli(["hosts", "revoke", "to-revoke"])
        #expect(status == 0)
        #expect(output == "revoked to-revoke\n")
        let refused = try server.postBatch(try host.nextBatch(3))
        #expect(refused.status == 403)
        #expect(refused.error["code"] as? String == "HOST_REVOKED")
        #expect(refused.error["message"] as? String == "host to-revoke is revoked")
        // Nothing of the refused batch was stored; what came before stays.
        let hosts = try server.get("/v1/hosts", key: reader).json["hosts"] as? [[String: Any]] ?? []
        let entry = hosts.first { $0["host_id"] as? String == "to-revoke" }
        #expect(entry?["records"] as? Int == 3)
        #expect(entry?["host_seq"] as? Int == 3)
        let listed = try server.cli(["hosts", "list"]).1
        #expect(listed.contains("to-revoke\trelay\trevoked\t3\t3\t"))
    }

    @Test func revokedKeyIsRefusedAtOnceForWritesAndReads() throws {
        let server = try ServerProcess()
        let key = try server.createKey("rw", scopes: "write:events,read:events")
        #expect(try server.post("/v1/events", key: key, json: #"{"agent_id":"k"}"#).status == 201)
        let listed = try server.cli(["keys", "list"]).1.split(separator: "\n")
        #expect(listed.count == 2)
        let id = String(listed[1].split(separator: "\t")[0])
        #expect(id.hasPrefix("k_") && id.count == 18)
        let (status, output) = try server.cli(["keys", "revoke", id])
        #expect(status == 0)
        #expect(output == "revoked \(id)\n")
        let write = try server.post("/v1/events", key: key, json: #"{"agent_id":"k"}"#)
        #expect(write.status == 401)
        #expect(write.error["code"] as? String == "UNAUTHORIZED")
        let read = try server.get("/v1/stats", key: key)
        #expect(read.status == 401)
        #expect(read.error["code"] as? String == "UNAUTHORIZED")
        #expect(try server.cli(["keys", "list"]).1.contains("\(id)\trw\twrite:events,read:events\trevoked\t"))
    }
}
