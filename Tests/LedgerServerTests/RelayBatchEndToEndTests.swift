import Foundation
import LedgerCore
@testable import LedgerServer
import Testing

@Suite("relay batches over a real loopback port")
struct RelayBatchEndToEndTests {
    @Test(arguments: Backend.all) func interleavedBatchesFromSeveralHostsAreStoredAndVerify(backend: Backend) throws {
        let server = try ServerProcess(backend: backend)
        let reader = try server.createKey("reader", scopes: "read:events")
        let hosts = try (0..<3).map { SimulatedHost(hostID: "host-\($0)", key: try Ed25519PrivateKey()) }
        for host in hosts { try server.enroll(host) }
        for _ in 0..<3 {
            for host in hosts {
                let response = try server.postBatch(try host.nextBatch(20))
                #expect(response.status == 200)
                #expect(response.json["status"] as? String == "stored")
                #expect(response.json["stored"] as? Int == 20)
            }
        }
        let verify = try server.get("/v1/verify", key: reader)
        #expect(verify.json["valid"] as? Bool == true)
        #expect(verify.json["events_verified"] as? Int == 180)
        let hostList = try server.get("/v1/hosts", key: reader).json["hosts"] as? [[String: Any]] ?? []
        // The server's own host (kind server) is listed too since it is claimed at start.
        #expect(hostList.filter { $0["kind"] as? String == "relay" }.map { $0["host_seq"] as? Int } == [60, 60, 60])
        #expect(hostList.filter { $0["kind"] as? String == "server" }.map { $0["host_seq"] as? Int } == [0])
    }

    /// Ingest stores the indexed text fields as byte ranges of the batch body, decoding only
    /// escaped ones: ids with `"`, `\` and control characters must still be stored as their values.
    @Test(arguments: Backend.all) func escapedAgentAndSessionIDsAreStoredAsTheirValues(backend: Backend) throws {
        let server = try ServerProcess(backend: backend)
        let reader = try server.createKey("reader", scopes: "read:events")
        let host = SimulatedHost(hostID: "host-esc", key: try Ed25519PrivateKey())
        try server.enroll(host)
        let agents = [#"q\"uote"#, #"back\\slash"#, "plain"]
        let lines = host.records(30, agents: agents.count, agentJSON: { agents[$0] },
                                 sessionJSON: { $0 % 2 == 0 ? #"tab\tsession"# : "s-plain" })
        let batch = try RelayBatch.encode(lines: lines, hostID: host.hostID, batchSeq: 1, key: host.key)
        #expect(try server.postBatch(batch).status == 200)
        func count(_ query: String) throws -> Int? {
            let path = "/v1/events?" + query.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(.init(charactersIn: "=&")))!
            return (try server.get(path + "&limit=1000", key: reader).json["events"] as? [[String: Any]])?.count
        }
        #expect(try count(#"agent_id=q"uote"#) == 10)
        #expect(try count(#"agent_id=back\slash"#) == 10)
        #expect(try count("agent_id=plain") == 10)
        #expect(try count("session_id=tab\tsession") == 17)
        let chains = try server.get("/v1/verify", key: reader).json
        #expect(chains["valid"] as? Bool == true)
        #expect(chains["events_verified"] as? Int == 30)
    }

    @Test(arguments: Backend.all) func exactReplayAnswersTheSameSuccessAndStoresNothingTwice(backend: Backend) throws {
        let server = try ServerProcess(backend: backend)
        let reader = try server.createKey("reader", scopes: "read:events")
        let host = SimulatedHost(hostID: "replayer", key: try Ed25519PrivateKey())
        try server.enroll(host)
        let batch = try host.nextBatch(10)
        let first = try server.postBatch(batch)
        let again = try server.postBatch(batch)
        #expect(first.status == 200)
        #expect(again.status == 200)
        #expect(again.json["status"] as? String == "replay")
        #expect(again.json["last_host_seq"] as? Int == first.json["last_host_seq"] as? Int)
        #expect(try server.get("/v1/stats", key: reader).json["records"] as? Int == 10)
    }

    @Test(arguments: Backend.all) func forkIsRefusedWith409AndRecordedAsIncident(backend: Backend) throws {
        let server = try ServerProcess(backend: backend)
        let reader = try server.createKey("reader", scopes: "read:events")
        let key = try Ed25519PrivateKey()
        let host = SimulatedHost(hostID: "forker", key: key)
        try server.enroll(host)
        #expect(try server.postBatch(try host.nextBatch(5)).status == 200)
        // Another history of the same host: same host_seq 1…5, different records.
        let other = SimulatedHost(hostID: "forker", key: key)
        _ = other.records(1, padding: 3)
        let forked = try RelayBatch.encode(lines: other.records(5), hostID: "forker", batchSeq: 2, key: key)
        let response = try server.postBatch(forked)
        #expect(response.status == 409)
        #expect(response.error["code"] as? String == "FORK")
        let incidents = try server.get("/v1/verify?host_id=forker", key: reader).json["incidents"] as? [[String: Any]]
        #expect(incidents?.first?["kind"] as? String == "fork")
        #expect(try server.get("/v1/stats", key: reader).json["records"] as? Int == 5)
    }

    @Test(arguments: Backend.all) func gapIsAcceptedOnlyAsAnIncidentThatVerifyReports(backend: Backend) throws {
        let server = try ServerProcess(backend: backend)
        let reader = try server.createKey("reader", scopes: "read:events")
        let host = SimulatedHost(hostID: "gappy", key: try Ed25519PrivateKey())
        try server.enroll(host)
        #expect(try server.postBatch(try host.nextBatch(5)).status == 200)
        _ = host.records(3)  // lost on the host
        let response = try server.postBatch(try host.nextBatch(5))
        #expect(response.status == 200)
        let kinds = (response.json["incidents"] as? [[String: Any]] ?? []).compactMap { $0["kind"] as? String }
        #expect(kinds.contains("host_gap"))
        let verify = try server.get("/v1/verify?host_id=gappy", key: reader).json
        #expect(verify["valid"] as? Bool == false)
        #expect((verify["incidents"] as? [[String: Any]] ?? []).contains { $0["kind"] as? String == "host_gap" })
    }

    @Test(arguments: Backend.all) func tamperedBodyWrongKeyUnknownAndRevokedHostsAreRefused(backend: Backend) throws {
        let server = try ServerProcess(backend: backend)
        let host = SimulatedHost(hostID: "signer", key: try Ed25519PrivateKey())
        try server.enroll(host)
        let batch = try host.nextBatch(4)
        var lines = RelayBatch.body(lines: host.records(0))
        lines = try Zlib.decompress(batch.compressedBody, maxOutputBytes: 1 << 20)
        lines[lines.count / 2] ^= 0x01
        let tampered = try server.postBatch(batch, override: ["X-Ledger-Body-SHA256": SHA256Hasher().hash(lines).hex],
                                            body: try Zlib.compress(lines))
        #expect(tampered.status == 401)
        #expect(tampered.error["code"] as? String == "BAD_SIGNATURE")

        let impostor = SimulatedHost(hostID: "signer", key: try Ed25519PrivateKey())
        let wrongKey = try server.postBatch(try impostor.nextBatch(4))
        #expect(wrongKey.status == 401)

        let stranger = SimulatedHost(hostID: "stranger", key: try Ed25519PrivateKey())
        let unknown = try server.postBatch(try stranger.nextBatch(2))
        #expect(unknown.status == 401)
        #expect(unknown.error["code"] as? String == "UNKNOWN_HOST")

        let notDeflate = try server.postBatch(batch, override: ["Content-Encoding": "identity"])
        #expect(notDeflate.status == 415)
        let garbage = try server.postBatch(batch, body: Array("not zlib at all".utf8))
        #expect(garbage.status == 400)
        #expect(garbage.error["code"] as? String == "BAD_COMPRESSION")

        #expect(try server.cli(["hosts", "revoke", "signer"]).0 == 0)
        let revoked = try server.postBatch(batch)
        #expect(revoked.status == 403)
        #expect(revoked.error["code"] as? String == "HOST_REVOKED")
    }

    @Test(arguments: Backend.all) func decompressionBombIsRefusedWith413(backend: Backend) throws {
        let server = try ServerProcess(backend: backend, extraArguments: ["--max-batch-bytes", "1MiB"])
        let host = SimulatedHost(hostID: "bomber", key: try Ed25519PrivateKey())
        try server.enroll(host)
        let zeros = [UInt8](repeating: 0x20, count: 64 << 20)
        let bomb = try Zlib.compress(zeros, level: 9)
        let batch = try host.nextBatch(1)
        let response = try server.postBatch(batch, body: bomb)
        #expect(bomb.count < 1 << 20)
        #expect(response.status == 413)
        #expect(response.error["code"] as? String == "BATCH_TOO_LARGE")
    }

    @Test(arguments: Backend.all) func enrollmentTokenRegistersTheRelayKeyOnce(backend: Backend) throws {
        let server = try ServerProcess(backend: backend)
        let token = try server.cli(["hosts", "token"]).1.trimmingCharacters(in: .whitespacesAndNewlines)
        let key = try Ed25519PrivateKey()
        let proof = try key.signature(for: RelayBatch.enrollmentMessage(
            hostID: "fresh", publicKeyBase64: key.publicKey.base64, token: token))
        let body = "{\"token\":\"\(token)\",\"host_id\":\"fresh\",\"public_key\":\"\(key.publicKey.base64)\","
            + "\"proof\":\"\(Data(proof).base64EncodedString())\"}"
        #expect(try server.post("/v1/relay/enroll", json: body).status == 201)
        #expect(try server.post("/v1/relay/enroll", json: body).status == 401)
        let host = SimulatedHost(hostID: "fresh", key: key)
        #expect(try server.postBatch(try host.nextBatch(3)).status == 200)
    }
}
