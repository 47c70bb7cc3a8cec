import Foundation
import LedgerCore
@testable import LedgerServer
import Testing

// Edges of the Trenchcoat mapping (docs/SERVER.md "Direct ingest, Trenchcoat style"): what a
// client sends that the record cannot hold is refused with the client's own field name, and
// nothing it sends is wrapped or dropped on the way into the record.

@Suite("Trenchcoat ingest edges over a real loopback port")
struct TrenchcoatEdgeTests {
    static let session = "123e4567-e89b-12d3-a456-426614174000"

    static func plugin(ts: String, data: String = #"{"prompt":"hi"}"#) -> String {
        #"{"ts":\#(ts),"event":"prompt_submit","session_id":"\#(session)","data":\#(data)}"#
    }

    static func documented(data: String) -> String {
        #"{"event_type":"tool_use","session_id":"\#(session)","timestamp":"2026-02-17T10:30:00Z","data":\#(data)}"#
    }

    static func body(_ events: String...) -> String { #"{"events":["# + events.joined(separator: ",") + "]}" }

    static func details(_ response: ServerProcess.Response) -> [[String: String]] {
        response.error["details"] as? [[String: String]] ?? []
    }

    static func stored(_ server: ServerProcess, key: String) throws -> [[String: Any]] {
        try server.get("/v1/events", key: key).json["events"] as? [[String: Any]] ?? []
    }

    // MARK: 1. `ts` beyond the year 9999

    @Test func epochNumberPastTheYear9999IsRefusedNotWrapped() throws {
        let server = try ServerProcess()
        let key = try server.createKey("writer", scopes: "write:events,read:events")
        // Microseconds where milliseconds are due: the year 58101, once stored as "8101-01-11T12:00:00Z".
        let response = try server.post("/api/v1/events", key: key,
                                       json: Self.body(Self.plugin(ts: "1771324200000"), Self.plugin(ts: "1771324200000000")))
        #expect(response.status == 400)
        #expect(response.error["code"] as? String == "VALIDATION_ERROR")
        let details = Self.details(response)
        #expect(details.count == 1)
        #expect(details.first?["field"] == "events[1].ts")
        #expect(details.first?["message"]?.contains("253402300799999") == true)
        #expect(try Self.stored(server, key: key).isEmpty)
        #expect(server.process.isRunning)
    }

    @Test func epochNumberRangeEndsAtTheLastMillisecondOf9999() throws {
        let server = try ServerProcess()
        let key = try server.createKey("writer", scopes: "write:events,read:events")
        let last = try server.post("/api/v1/events", key: key, json: Self.body(Self.plugin(ts: "253402300799999")))
        #expect(last.status == 200)
        #expect(try Self.stored(server, key: key).first?["timestamp"] as? String == "9999-12-31T23:59:59.999000Z")
        let next = try server.post("/api/v1/events", key: key, json: Self.body(Self.plugin(ts: "253402300800000")))
        #expect(next.status == 400)
        #expect(Self.details(next).map { $0["field"] } == ["events[0].ts"])
        let largest = try server.post("/api/v1/events", key: key, json: Self.body(Self.plugin(ts: "9007199254740991")))
        #expect(largest.status == 400)
        #expect(Self.details(largest).map { $0["field"] } == ["events[0].ts"])
        #expect(try Self.stored(server, key: key).count == 1)
    }

    // MARK: 2. Errors of the record's fields name the client's fields

    @Test func oversizedToolNameIsReportedAsDataToolName() throws {
        let server = try ServerProcess()
        let key = try server.createKey("writer", scopes: "write:events,read:events")
        let long = String(repeating: "t", count: 257)
        let response = try server.post("/api/v1/events", key: key, json: Self.body(
            Self.documented(data: #"{"tool_name":"Bash"}"#), Self.documented(data: #"{"tool_name":"\#(long)"}"#)))
        #expect(response.status == 400)
        let details = Self.details(response)
        #expect(details.map { $0["field"] } == ["events[1].data.tool_name"])
        #expect(details.first?["message"]?.hasPrefix("data.tool_name must be at most 256 bytes") == true)
        #expect(try Self.stored(server, key: key).isEmpty)
    }

    @Test func invalidAgentIDIsReportedAsDataAgentID() throws {
        let server = try ServerProcess()
        let key = try server.createKey("writer", scopes: "write:events,read:events")
        let response = try server.post("/api/v1/events", key: key, json: Self.body(
            Self.documented(data: #"{"agent_id":"a\u0001b"}"#)))
        #expect(response.status == 400)
        let details = Self.details(response)
        #expect(details.map { $0["field"] } == ["events[0].data.agent_id"])
        #expect(details.first?["message"]?.hasPrefix("data.agent_id must not contain control characters") == true)
    }

    @Test func keyNameThatCannotBeAnAgentIDPointsAtDataAgentID() throws {
        let server = try ServerProcess()
        let key = try server.createKey(String(repeating: "k", count: 300), scopes: "write:events,read:events")
        let response = try server.post("/api/v1/events", key: key, json: Self.body(Self.documented(data: "{}")))
        #expect(response.status == 400)
        let details = Self.details(response)
        #expect(details.map { $0["field"] } == ["events[0].data.agent_id"])
        #expect(details.first?["message"]?.contains("API key's name") == true)
        let named = try server.post("/api/v1/events", key: key, json: Self.body(Self.documented(data: #"{"agent_id":"a"}"#)))
        #expect(named.status == 200)
    }

    // MARK: 3. A tool_name or agent_id that is not a string

    @Test func nonStringToolNameOrAgentIDIsRefusedByName() throws {
        let server = try ServerProcess()
        let key = try server.createKey("writer", scopes: "write:events,read:events")
        let response = try server.post("/api/v1/events", key: key, json: Self.body(
            Self.documented(data: #"{"tool_name":"Bash"}"#),
            Self.documented(data: #"{"tool_name":42}"#),
            Self.plugin(ts: "1771324200000", data: #"{"agent_id":["planner"]}"#),
            Self.documented(data: #"{"tool_name":{"name":"Bash"},"agent_id":true}"#)))
        #expect(response.status == 400)
        let details = Self.details(response)
        #expect(details.map { $0["field"] } == ["events[1].data.tool_name", "events[2].data.agent_id",
                                               "events[3].data.agent_id", "events[3].data.tool_name"])
        #expect(details.allSatisfy { $0["message"] == "Expected string" })
        #expect(try Self.stored(server, key: key).isEmpty)
    }

    @Test func liftedMembersWithoutAValueForTheRecordStayInMetadata() throws {
        let server = try ServerProcess()
        let key = try server.createKey("writer", scopes: "write:events,read:events")
        let response = try server.post("/api/v1/events", key: key, json: Self.body(Self.documented(
            data: #"{"tool_name":null,"agent_id":"","tool_input":null,"tool_response":null,"cwd":"/tmp"}"#)))
        #expect(response.status == 200)
        let record = try #require(try Self.stored(server, key: key).first)
        #expect(record["agent_id"] as? String == "writer")
        #expect(record["action_name"] == nil)
        #expect(record["action_input"] == nil)
        #expect(record["action_output"] == nil)
        let data = ((record["metadata"] as? [String: Any])?["trenchcoat"] as? [String: Any])?["data"] as? [String: Any]
        #expect(data?.keys.sorted() == ["agent_id", "cwd", "tool_input", "tool_name", "tool_response"])
        #expect(data?["agent_id"] as? String == "")
        #expect(data?["tool_name"] is NSNull)
        #expect(data?["tool_input"] is NSNull)
        #expect(data?["tool_response"] is NSNull)
    }

    @Test func liftedMembersWithAValueLeaveMetadata() throws {
        let server = try ServerProcess()
        let key = try server.createKey("writer", scopes: "write:events,read:events")
        let response = try server.post("/api/v1/events", key: key, json: Self.body(Self.documented(
            data: #"{"tool_name":"Bash","agent_id":"planner","tool_input":{"command":"ls"},"tool_response":"ok","cwd":"/tmp"}"#)))
        #expect(response.status == 200)
        let record = try #require(try Self.stored(server, key: key).first)
        #expect(record["agent_id"] as? String == "planner")
        #expect(record["action_name"] as? String == "Bash")
        #expect((record["action_input"] as? [String: Any])?["command"] as? String == "ls")
        #expect(record["action_output"] as? String == "ok")
        let data = ((record["metadata"] as? [String: Any])?["trenchcoat"] as? [String: Any])?["data"] as? [String: Any]
        #expect(data?.keys.sorted() == ["cwd"])
    }
}
