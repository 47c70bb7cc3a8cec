import Foundation
import LedgerCore
@testable import LedgerServer
import Testing

@Suite("auth on every endpoint, reads, pagination, export")
struct AuthAndReadTests {
    static let endpoints: [(String, String, Scope)] = [
        ("POST", "/v1/events", .writeEvents), ("POST", "/v1/batch", .writeEvents),
        ("POST", "/api/v1/events", .writeEvents), ("GET", "/v1/events", .readEvents),
        ("GET", "/v1/events/x", .readEvents), ("GET", "/v1/hosts", .readEvents), ("GET", "/v1/agents", .readEvents),
        ("GET", "/v1/stats", .readEvents), ("GET", "/v1/verify", .readEvents), ("GET", "/v1/export", .readEvents),
        ("GET", "/metrics", .admin),
    ]

    @Test(arguments: Backend.all) func everyEndpointButHealthzNeedsAKeyWithItsScope(backend: Backend) throws {
        let server = try ServerProcess(backend: backend)
        let writer = try server.createKey("w", scopes: "write:events")
        let reader = try server.createKey("r", scopes: "read:events")
        #expect(try server.get("/healthz").status == 200)
        for (method, path, scope) in Self.endpoints {
            let body: [UInt8]? = method == "POST" ? Array("{}".utf8) : nil
            #expect(try server.request(method, path, body: body).status == 401, "\(path) without key")
            #expect(try server.request(method, path, key: "lk_unknown", body: body).status == 401, "\(path) unknown key")
            let wrong = scope == .writeEvents ? reader : writer
            let refused = try server.request(method, path, key: wrong, body: body)
            #expect(refused.status == 403, "\(path) wrong scope")
            #expect(refused.error["required_scope"] as? String == scope.rawValue)
        }
        let bearer = try server.request("GET", "/v1/stats", headers: ["Authorization": "Bearer \(reader)"])
        #expect(bearer.status == 200)
    }

    @Test(arguments: Backend.all) func revokedKeyIsRefusedAtOnceOnTheRunningServer(backend: Backend) throws {
        let server = try ServerProcess(backend: backend)
        let key = try server.createKey("r", scopes: "read:events")
        #expect(try server.get("/v1/stats", key: key).status == 200)
        let id = try server.cli(["keys", "list"]).1.split(separator: "\n").dropFirst().first?.split(separator: "\t").first
        #expect(try server.cli(["keys", "revoke", String(id ?? "")]).0 == 0)
        #expect(try server.get("/v1/stats", key: key).status == 401)
    }

    @Test func noAuthIsRefusedOnANonLoopbackAddress() throws {
        let process = Process()
        process.executableURL = ServerProcess.binaryDirectory.appendingPathComponent("ledger-server")
        process.arguments = ["serve", "--no-auth", "--listen", "0.0.0.0:0", "--data-dir", NSTemporaryDirectory() + "noauth",
                             "--config", "/dev/null"]
        process.standardError = Pipe()
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 2)
    }

    @Test(arguments: Backend.all) func cursorPaginationWalksTenThousandRecordsExactlyOnce(backend: Backend) throws {
        let server = try ServerProcess(backend: backend)
        let key = try server.createKey("rw", scopes: "write:events,read:events")
        let host = SimulatedHost(hostID: "pager", key: try Ed25519PrivateKey())
        try server.enroll(host)
        for _ in 0..<10 { #expect(try server.postBatch(try host.nextBatch(1000)).status == 200) }
        var seen = Set<String>()
        var cursor: String?
        var pages = 0
        repeat {
            let path = "/v1/events?host_id=pager&limit=1000" + (cursor.map { "&cursor=\($0)" } ?? "")
            let page = try server.get(path, key: key).json
            for event in page["events"] as? [[String: Any]] ?? [] { seen.insert(event["id"] as? String ?? "") }
            cursor = page["next_cursor"] as? String
            pages += 1
        } while cursor != nil && pages < 20
        #expect(seen.count == 10_000)
        #expect(pages == 10)
        let filtered = try server.get("/v1/events?agent_id=agent-1&label.env=bench&limit=5", key: key).json
        #expect((filtered["events"] as? [[String: Any]])?.allSatisfy { $0["agent_id"] as? String == "agent-1" } == true)
        #expect(try server.get("/v1/events?limit=1001", key: key).status == 400)
        #expect(try server.get("/v1/events?cursor=%%%", key: key).status == 400)
    }

    @Test(arguments: Backend.all) func exportVerifiesWithLedgerctl(backend: Backend) throws {
        let server = try ServerProcess(backend: backend)
        let key = try server.createKey("rw", scopes: "write:events,read:events")
        let host = SimulatedHost(hostID: "exporter", key: try Ed25519PrivateKey())
        try server.enroll(host)
        #expect(try server.postBatch(try host.nextBatch(300)).status == 200)
        #expect(try server.post("/v1/batch", key: key, json: #"[{"agent_id":"x"},{"agent_id":"y"}]"#).status == 201)
        let export = try server.get("/v1/export", key: key)
        #expect(export.status == 200)
        #expect(export.body.filter { $0 == 0x0A }.count == 302)
        let path = server.dataDir + "/export.ndjson"
        try Data(export.body).write(to: URL(fileURLWithPath: path))
        let verify = Process()
        verify.executableURL = ServerProcess.binaryDirectory.appendingPathComponent("ledgerctl")
        verify.arguments = ["verify", path]
        verify.standardOutput = Pipe()
        verify.standardError = Pipe()
        try verify.run()
        verify.waitUntilExit()
        #expect(verify.terminationStatus == 0)
        let agents = try server.get("/v1/agents?host_id=exporter", key: key).json["agents"] as? [[String: Any]] ?? []
        #expect(agents.count == 4)
        #expect(agents.allSatisfy { $0["chain_status"] as? String == "ok" })
    }

    @Test(arguments: Backend.all) func sigtermStopsTheServerCleanly(backend: Backend) throws {
        let server = try ServerProcess(backend: backend)
        #expect(server.stop() == 0)
    }
}

@Suite("handlers in-process, without a socket")
struct InProcessRouterTests {
    @Test(arguments: Backend.all) func routerAnswersUnknownPathsAndMethodsWithJSONErrors(backend: Backend) throws {
        var settings = LedgerServer.Settings()
        if backend == .postgres { settings.database = try PostgresCluster.shared().createDatabase() }
        settings.dataDirectory = NSTemporaryDirectory() + "ledger-inproc-" + UUID().uuidString
        settings.hostID = "inproc:server"
        settings.noAuth = true
        let server = try LedgerServer(settings: settings)
        defer { server.store.close(); try? FileManager.default.removeItem(atPath: settings.dataDirectory) }
        let missing = server.router.handle(HTTPRequest(method: "GET", path: "/nope"))
        #expect(missing.status == 404)
        #expect(String(decoding: missing.bytes, as: UTF8.self).hasPrefix("{\"error\":{\"code\":\"NOT_FOUND\""))
        #expect(server.router.handle(HTTPRequest(method: "DELETE", path: "/v1/events")).status == 405)
        let stored = server.router.handle(HTTPRequest(method: "POST", path: "/v1/events", body: Array(#"{"agent_id":"z"}"#.utf8)))
        #expect(stored.status == 201)
        #expect(try RecordReader().read(stored.bytes).hostID == "inproc:server")
    }
}
