import Foundation
import LedgerCore
@testable import LedgerServer
import Testing

// Every status code the server answers, on the real binary, with the answer's body checked
// field by field (docs/SERVER.md, "Errors"). 200/201/207/401/403/409 fork/413 body/415 are
// also covered next to their features; here each appears once with its exact body.

@Suite("every status code over a real loopback port")
struct StatusCodeTests {
    /// The `error` object of an answer, or a failure naming the body.
    static func error(_ response: ServerProcess.Response) -> [String: Any] {
        response.json["error"] as? [String: Any] ?? ["unparsed": response.text]
    }

    @Test func eachStatusComesWithItsDocumentedJSONBody() throws {
        let server = try ServerProcess(extraArguments: ["--max-body", "64KiB", "--max-header-bytes", "8KiB"],
                                       hostID: "codes:server")
        let key = try server.createKey("codes", scopes: "write:events,read:events")

        // 200: a read, and a relay batch stored.
        let health = try server.get("/healthz")
        #expect(health.status == 200)
        let host = SimulatedHost(hostID: "codes-host", key: try Ed25519PrivateKey())
        try server.enroll(host)
        let batch = try host.nextBatch(3)
        let stored = try server.postBatch(batch)
        #expect(stored.status == 200)
        #expect(stored.json["status"] as? String == "stored")
        #expect(stored.json["host_id"] as? String == "codes-host")
        #expect(stored.json["batch_seq"] as? Int == 1)
        #expect(stored.json["records"] as? Int == 3)
        #expect(stored.json["stored"] as? Int == 3)
        #expect(stored.json["replayed"] as? Int == 0)
        #expect(stored.json["last_host_seq"] as? Int == 3)
        #expect((stored.json["incidents"] as? [Any])?.isEmpty == true)

        // 201 and 207.
        let created = try server.post("/v1/events", key: key, json: #"{"agent_id":"c"}"#)
        #expect(created.status == 201)
        #expect(created.json["host_id"] as? String == "codes:server")
        #expect(created.json["sequence"] as? Int == 1)
        let partial = try server.post("/v1/batch", key: key, json: #"[{"agent_id":"c"},{"agent_id":""}]"#)
        #expect(partial.status == 207)
        #expect(partial.array.count == 2)
        #expect(partial.array.first?["index"] as? Int == 0)
        #expect((partial.array.first?["event"] as? [String: Any])?["sequence"] as? Int == 2)
        #expect(partial.array.last?["index"] as? Int == 1)
        #expect(partial.array.last?["field"] as? String == "agent_id")

        // 400: bad query parameter.
        let badQuery = try server.get("/v1/events?colour=red", key: key)
        #expect(badQuery.status == 400)
        #expect(Self.error(badQuery)["code"] as? String == "BAD_REQUEST")
        #expect(Self.error(badQuery)["message"] as? String == "unknown query parameter colour")
        #expect(Self.error(badQuery)["field"] as? String == "colour")

        // 401 and 403.
        let anonymous = try server.get("/v1/stats")
        #expect(anonymous.status == 401)
        #expect(Self.error(anonymous)["code"] as? String == "UNAUTHORIZED")
        #expect(Self.error(anonymous)["message"] as? String
                == "a valid API key is required (X-API-Key or Authorization: Bearer)")
        let forbidden = try server.get("/metrics", key: key)
        #expect(forbidden.status == 403)
        #expect(Self.error(forbidden)["code"] as? String == "FORBIDDEN")
        #expect(Self.error(forbidden)["required_scope"] as? String == "admin")

        // 404 and 405: JSON from the router, also over the socket.
        let missing = try server.get("/v1/nothing-here", key: key)
        #expect(missing.status == 404)
        #expect(Self.error(missing)["code"] as? String == "NOT_FOUND")
        #expect(Self.error(missing)["message"] as? String == "no route for /v1/nothing-here")
        let wrongMethod = try server.request("DELETE", "/v1/events", key: key)
        #expect(wrongMethod.status == 405)
        #expect(Self.error(wrongMethod)["code"] as? String == "METHOD_NOT_ALLOWED")
        #expect(Self.error(wrongMethod)["message"] as? String == "method not allowed on this path")

        // 409: a host id enrolled twice through an enrollment token.
        let token = try server.cli(["hosts", "token"]).1.trimmingCharacters(in: .whitespacesAndNewlines)
        let other = try Ed25519PrivateKey()
        let proof = try other.signature(for: RelayBatch.enrollmentMessage(
            hostID: "codes-host", publicKeyBase64: other.publicKey.base64, token: token))
        let enroll = "{\"token\":\"\(token)\",\"host_id\":\"codes-host\",\"public_key\":\"\(other.publicKey.base64)\","
            + "\"proof\":\"\(Data(proof).base64EncodedString())\"}"
        let duplicate = try server.post("/v1/relay/enroll", json: enroll)
        #expect(duplicate.status == 409)
        #expect(Self.error(duplicate)["code"] as? String == "CONFLICT")
        #expect(Self.error(duplicate)["message"] as? String == "conflict: host codes-host is already enrolled")
        // The refused enrollment did not use the token up (its savepoint rolled back).
        let fresh = try other.signature(for: RelayBatch.enrollmentMessage(
            hostID: "codes-other", publicKeyBase64: other.publicKey.base64, token: token))
        let retry = "{\"token\":\"\(token)\",\"host_id\":\"codes-other\",\"public_key\":\"\(other.publicKey.base64)\","
            + "\"proof\":\"\(Data(fresh).base64EncodedString())\"}"
        let enrolled = try server.post("/v1/relay/enroll", json: retry)
        #expect(enrolled.status == 201)
        #expect(enrolled.json["host_id"] as? String == "codes-other")
        #expect(enrolled.json["status"] as? String == "active")

        // 413: a body over --max-body, announced by Content-Length (refused before it is read).
        let big = #"{"agent_id":"a","metadata":{"x":""# + String(repeating: "y", count: 70_000) + #""}}"#
        let tooLarge = try server.post("/v1/events", key: key, json: big)
        #expect(tooLarge.status == 413)
        #expect(Self.error(tooLarge)["code"] as? String == "PAYLOAD_TOO_LARGE")
        #expect(Self.error(tooLarge)["message"] as? String == "the request body exceeds the limit")

        // 431: headers over --max-header-bytes. libmicrohttpd answers this itself, before any
        // route runs, so the body is its own short text, not JSON (docs/SERVER.md says so).
        let hugeHeader = try server.request("GET", "/healthz", headers: ["X-Padding": String(repeating: "p", count: 12_000)])
        #expect(hugeHeader.status == 431)
        #expect(hugeHeader.json.isEmpty)

        // 415: a relay batch that is not deflate.
        let notDeflate = try server.postBatch(try host.nextBatch(1), override: ["Content-Encoding": "gzip"])
        #expect(notDeflate.status == 415)
        #expect(Self.error(notDeflate)["code"] as? String == "UNSUPPORTED_ENCODING")
        #expect(Self.error(notDeflate)["message"] as? String == "the body must be Content-Encoding: deflate")

        // The server is still healthy after every refusal.
        #expect(try server.get("/healthz").status == 200)
    }

    @Test func writesAfterTheStoreClosedAre503Unavailable() throws {
        // 503 only happens while shutting down (the store closes after the HTTP server stopped
        // accepting, so over a socket it is a race): driven in-process, without a socket.
        var settings = LedgerServer.Settings()
        settings.dataDirectory = NSTemporaryDirectory() + "ledger-503-" + UUID().uuidString
        settings.hostID = "closing:server"
        settings.noAuth = true
        let server = try LedgerServer(settings: settings)
        defer { try? FileManager.default.removeItem(atPath: settings.dataDirectory) }
        server.store.close()
        let response = server.router.handle(HTTPRequest(method: "POST", path: "/v1/events",
                                                        body: Array(#"{"agent_id":"late"}"#.utf8)))
        #expect(response.status == 503)
        let body = (try? JSONSerialization.jsonObject(with: Data(response.bytes))) as? [String: Any]
        let error = body?["error"] as? [String: Any]
        #expect(error?["code"] as? String == "UNAVAILABLE")
        #expect(error?["message"] as? String == "the store is closed")
    }
}
