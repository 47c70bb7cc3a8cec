import Foundation
import LedgerCore
@testable import LedgerServer
import Testing

// The server's own host id (--host-id, kind `server`) and relay host ids never overlap: a
// relay enrolled under the server's id could write onto the chains the server seals, and a
// server started under a relay's id would seal onto that relay's stream.

@Suite("the server's own host id is never a relay's")
struct ServerHostIDTests {
    static func enrollment(_ token: String, _ hostID: String, _ key: Ed25519PrivateKey) throws -> String {
        let proof = try key.signature(for: RelayBatch.enrollmentMessage(
            hostID: hostID, publicKeyBase64: key.publicKey.base64, token: token))
        return "{\"token\":\"\(token)\",\"host_id\":\"\(hostID)\",\"public_key\":\"\(key.publicKey.base64)\","
            + "\"proof\":\"\(Data(proof).base64EncodedString())\"}"
    }

    @Test(arguments: Backend.all) func enrollingOrAddingTheServersOwnIDIsRefusedBeforeItsFirstEvent(backend: Backend) throws {
        let server = try ServerProcess(backend: backend, hostID: "own:server")
        let writer = try server.createKey("w", scopes: "write:events,read:events")
        // No direct ingest yet: the id must be taken from the start, not from the first event.
        let token = try server.cli(["hosts", "token"]).1.trimmingCharacters(in: .whitespacesAndNewlines)
        let thief = try Ed25519PrivateKey()
        let refused = try server.post("/v1/relay/enroll", json: try Self.enrollment(token, "own:server", thief))
        #expect(refused.status == 409)
        #expect(refused.error["code"] as? String == "CONFLICT")
        #expect(refused.error["message"] as? String
                == "conflict: host own:server is a server's own host id (its direct-ingest chains); choose another host id")
        #expect(try server.cli(["hosts", "add", "own:server", thief.publicKey.base64]).0 != 0)
        // A batch signed as the server's host is not taken either.
        let forger = SimulatedHost(hostID: "own:server", key: thief)
        let forged = try server.postBatch(try forger.nextBatch(3))
        #expect(forged.status == 401)
        #expect(forged.error["code"] as? String == "UNKNOWN_HOST")
        // The server's own chains are untouched and keep working.
        for expected in 1...3 {
            let event = try server.post("/v1/events", key: writer, json: #"{"agent_id":"a"}"#)
            #expect(event.status == 201)
            #expect(event.json["host_seq"] as? Int == expected)
        }
        let verify = try server.get("/v1/verify?host_id=own:server", key: writer).json
        #expect(verify["valid"] as? Bool == true)
        #expect(verify["events_verified"] as? Int == 3)
    }

    @Test(arguments: Backend.all) func aServerStartedWithAnEnrolledRelaysIDRefusesToStart(backend: Backend) throws {
        let first = try ServerProcess(backend: backend, hostID: "first:server")
        let relay = SimulatedHost(hostID: "web-1", key: try Ed25519PrivateKey())
        try first.enroll(relay)
        #expect(try first.postBatch(try relay.nextBatch(3)).status == 200)

        let second = Process()
        second.executableURL = ServerProcess.binaryDirectory.appendingPathComponent("ledger-server")
        second.arguments = ["serve", "--data-dir", first.dataDir, "--listen", "127.0.0.1:\(try ServerProcess.freePort())",
                            "--host-id", "web-1", "--config", "/dev/null"]
            + (first.database.isEmpty ? [] : ["--database", first.database])
        let stderr = Pipe()
        second.standardError = stderr
        try second.run()
        let deadline = Date().addingTimeInterval(20)
        while second.isRunning && Date() < deadline { usleep(50_000) }
        if second.isRunning {
            second.terminate()
            second.waitUntilExit()
            Issue.record("a server with --host-id of an enrolled relay started")
        }
        #expect(second.terminationStatus == 2)
        let message = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(message == "ledger-server: cannot start: host web-1 is enrolled as a relay host; "
                + "--host-id must name this server's own host, not a relay's\n")
        // The relay's stream is untouched and continues.
        #expect(try first.postBatch(try relay.nextBatch(2)).status == 200)
    }

    /// Two writers sealing one host id (two servers given the same --host-id on one database):
    /// the one whose heads are stale is refused with nothing stored, and its next request
    /// seals from the stored heads instead of failing forever.
    @Test(arguments: Backend.all) func aStoreFailureAfterSealingNeverWedgesDirectIngest(backend: Backend) throws {
        var settings = LedgerServer.Settings()
        settings.dataDirectory = NSTemporaryDirectory() + "ledger-wedge-" + UUID().uuidString
        if backend == .postgres { settings.database = try PostgresCluster.shared().createDatabase() }
        let store = try LedgerServer.openStore(settings)
        defer { store.close(); try? FileManager.default.removeItem(atPath: settings.dataDirectory) }
        try store.claimServerHost(id: "twice:server")
        let one = try DirectIngestor(hostID: "twice:server", store: store)
        let two = try DirectIngestor(hostID: "twice:server", store: store)
        let event = [Array(#"{"agent_id":"a"}"#.utf8)]
        func ingest(_ ingestor: DirectIngestor) throws -> UInt64? {
            guard case let .stored(_, facts)? = try ingestor.ingest(event, origin: .http(keyID: "k"),
                                                                    receivedAtMicros: 1).first else { return nil }
            return facts.hostSeq
        }
        func moved(_ sealed: Int) -> StoreError {
            .headMoved("the server sealed host_seq \(sealed) of twice:server, but the store holds \(sealed): another "
                       + "writer uses this host id (--host-id must be unique per server); the chain heads are "
                       + "reloaded, send again")
        }
        #expect(try ingest(one) == 1)
        #expect(throws: moved(1)) { try ingest(two) }  // `two` read its heads before that
        #expect(try ingest(two) == 2)
        #expect(throws: moved(2)) { try ingest(one) }
        #expect(try ingest(one) == 3)
        #expect(throws: moved(3)) { try ingest(two) }
        #expect(try ingest(two) == 4)
        let host = try #require(try store.host(id: "twice:server"))
        #expect(host.kind == .server)
        #expect(host.lastHostSeq == 4 && host.records == 4)
        let chains = try store.chains(hostID: "twice:server", agentID: nil)
        #expect(chains.map(\.head.sequence) == [4])
        #expect(chains.map(\.status) == ["ok"])
    }
}
