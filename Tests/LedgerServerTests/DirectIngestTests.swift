import Foundation
import LedgerCore
@testable import LedgerServer
import Testing

@Suite("direct ingest (ProvenLog and Trenchcoat shapes) over a real loopback port")
struct DirectIngestTests {
    static let session = "123e4567-e89b-12d3-a456-426614174000"

    @Test(arguments: Backend.all) func singleEventIsAnswered201WithTheStoredChainedRecord(backend: Backend) throws {
        let server = try ServerProcess(backend: backend, hostID: "unit:server")
        let key = try server.createKey("writer", scopes: "write:events")
        let first = try server.post("/v1/events", key: key, json: #"{"agent_id":"a1","action_type":"TOOL_CALL"}"#)
        #expect(first.status == 201)
        #expect(first.json["schema_version"] as? String == "1.0")
        #expect(first.json["sequence"] as? Int == 1)
        #expect(first.json["host_id"] as? String == "unit:server")
        #expect(first.json["prev_hash"] as? String == String(repeating: "0", count: 64))
        #expect((first.json["id"] as? String)?.count == 36)
        let second = try server.post("/v1/events", key: key, json: #"{"agent_id":"a1"}"#)
        #expect(second.json["sequence"] as? Int == 2)
        #expect(second.json["prev_hash"] as? String == first.json["hash"] as? String)
        #expect(try RecordReader().read(second.body).hostSeq == 2)
    }

    @Test(arguments: Backend.all) func invalidEventIsAnswered400WithTheFieldLevelError(backend: Backend) throws {
        let server = try ServerProcess(backend: backend)
        let key = try server.createKey("writer", scopes: "write:events")
        let missing = try server.post("/v1/events", key: key, json: #"{"action_type":"TOOL_CALL"}"#)
        #expect(missing.status == 400)
        #expect(missing.error["code"] as? String == "VALIDATION_ERROR")
        #expect(missing.error["field"] as? String == "agent_id")
        #expect(missing.error["message"] as? String == "agent_id is required")
        let malformed = try server.post("/v1/events", key: key, json: "{")
        #expect(malformed.status == 400)
        #expect(malformed.error["code"] as? String == "MALFORMED_JSON")
    }

    @Test(arguments: Backend.all) func batchWithFailuresIsAnswered207OnePerInputInOrder(backend: Backend) throws {
        let server = try ServerProcess(backend: backend)
        let key = try server.createKey("writer", scopes: "write:events")
        let all = try server.post("/v1/batch", key: key, json: #"[{"agent_id":"a"},{"agent_id":"b"}]"#)
        #expect(all.status == 201)
        #expect(all.array.count == 2)
        let partial = try server.post("/v1/batch", key: key, json: #"[{"agent_id":"a"},{"source":"x"},{"agent_id":"c"}]"#)
        #expect(partial.status == 207)
        #expect(partial.array.map { $0["index"] as? Int } == [0, 1, 2])
        #expect((partial.array[0]["event"] as? [String: Any])?["sequence"] as? Int == 2)
        #expect(partial.array[1]["error"] as? String == "agent_id is required")
        #expect(partial.array[1]["event"] == nil)
        #expect((partial.array[2]["event"] as? [String: Any])?["agent_id"] as? String == "c")
    }

    /// An event nested `levels` deep in all (the event object is the first level).
    static func deepEvent(_ agent: String, levels: Int) -> String {
        #"{"agent_id":"\#(agent)","action_input":"# + String(repeating: "[", count: levels - 1)
            + String(repeating: "]", count: levels - 1) + "}"
    }

    @Test(arguments: Backend.all) func batchGivesEachEventTheNestingLimitOfASingleEvent(backend: Backend) throws {
        let server = try ServerProcess(backend: backend)
        let key = try server.createKey("writer", scopes: "write:events,read:events")
        let deepest = Self.deepEvent("deep", levels: 64)
        let tooDeep = Self.deepEvent("deeper", levels: 65)
        #expect(try server.post("/v1/events", key: key, json: deepest).status == 201)
        let single = try server.post("/v1/events", key: key, json: tooDeep)
        #expect(single.status == 400)
        #expect(single.error["code"] as? String == "MALFORMED_JSON")
        // The array adds a level: the deepest event /v1/events accepts is accepted in a batch too.
        let all = try server.post("/v1/batch", key: key, json: "[" + deepest + #",{"agent_id":"b"}]"#)
        #expect(all.status == 201)
        #expect(all.array.map { ($0["event"] as? [String: Any])?["agent_id"] as? String } == ["deep", "b"])
        // An event too deep for /v1/events is refused on its own, with the same message.
        let partial = try server.post("/v1/batch", key: key, json: #"[{"agent_id":"a"},"# + tooDeep + #",{"agent_id":"c"}]"#)
        #expect(partial.status == 207)
        try #require(partial.array.map { $0["index"] as? Int } == [0, 1, 2])
        #expect((partial.array[0]["event"] as? [String: Any])?["agent_id"] as? String == "a")
        #expect(partial.array[1]["error"] as? String == single.error["message"] as? String)
        #expect(partial.array[1]["event"] == nil)
        #expect((partial.array[2]["event"] as? [String: Any])?["agent_id"] as? String == "c")
        // However deep: still that event's own error.
        let deeper = try server.post("/v1/batch", key: key,
                                     json: "[" + Self.deepEvent("x", levels: 100_000) + #",{"agent_id":"d"}]"#)
        #expect(deeper.status == 207)
        #expect((deeper.array.first?["error"] as? String)?.contains("nesting deeper than 64 levels") == true)
        #expect((deeper.array.last?["event"] as? [String: Any])?["agent_id"] as? String == "d")
        let stored = try server.get("/v1/events?limit=1000", key: key).json["events"] as? [[String: Any]] ?? []
        #expect(stored.map { $0["agent_id"] as? String } == ["deep", "deep", "b", "a", "c", "d"])
    }

    @Test func batchThatIsNotJSONIsStillRefusedWhole() throws {
        let server = try ServerProcess()
        let key = try server.createKey("writer", scopes: "write:events,read:events")
        let tooDeep = Self.deepEvent("deeper", levels: 65)
        for body in ["[" + tooDeep + #",{"agent_id":"a"},tru]"#, "[" + tooDeep + #",{"agent_id":"a","agent_id":"b"}]"#,
                     "[" + tooDeep + ",]", "[" + tooDeep + #",{"agent_id":"a"}"#, "[" + tooDeep + "] x",
                     #"[{"agent_id":"a"},"# + String(repeating: "[", count: 70) + String(repeating: "}", count: 70) + "]",
                     "[" + String(repeating: "[", count: 70) + #""\"# + String(repeating: "]", count: 70) + "]",
                     #"{"events":"# + String(repeating: "[", count: 70) + String(repeating: "]", count: 70) + "}"] {
            let response = try server.post("/v1/batch", key: key, json: body)
            #expect(response.status == 400, "\(body.suffix(40))")
            #expect(response.error["code"] as? String == "MALFORMED_JSON", "\(body.suffix(40))")
        }
        #expect(try server.get("/v1/stats", key: key).json["records"] as? Int == 0)
    }

    static func trenchcoatEvents(_ count: Int) -> String {
        let one = #"{"event_type":"tool_use","session_id":"\#(session)","timestamp":"2026-02-17T10:30:00Z","data":{"tool_name":"Bash","tool_input":{"command":"ls"},"cwd":"/tmp"}}"#
        return "{\"events\":[" + Array(repeating: one, count: count).joined(separator: ",") + "]}"
    }

    @Test(arguments: Backend.all) func trenchcoatBatchOf1000IsAcceptedAnd1001IsRefused(backend: Backend) throws {
        let server = try ServerProcess(backend: backend)
        let key = try server.createKey("claude-code", scopes: "write:events,read:events")
        let ok = try server.post("/api/v1/events", key: key, json: Self.trenchcoatEvents(1000))
        #expect(ok.status == 200)
        #expect((ok.json["data"] as? [String: Any])?["accepted"] as? Int == 1000)
        #expect((ok.json["data"] as? [String: Any])?["rejected"] as? Int == 0)
        let tooMany = try server.post("/api/v1/events", key: key, json: Self.trenchcoatEvents(1001))
        #expect(tooMany.status == 400)
        #expect(tooMany.error["code"] as? String == "VALIDATION_ERROR")
        #expect(tooMany.error["message"] as? String == "Batch size exceeds limit of 1000 events per request.")
        let stored = try server.get("/v1/events?limit=1", key: key).json["events"] as? [[String: Any]]
        let record = try #require(stored?.first)
        #expect(record["agent_id"] as? String == "claude-code")
        #expect(record["action_type"] as? String == "TOOL_USE")
        #expect(record["action_name"] as? String == "Bash")
        #expect((record["action_input"] as? [String: Any])?["command"] as? String == "ls")
        let metadata = (record["metadata"] as? [String: Any])?["trenchcoat"] as? [String: Any]
        #expect((metadata?["data"] as? [String: Any])?["cwd"] as? String == "/tmp")
    }

    @Test(arguments: Backend.all) func trenchcoatInvalidFieldsRejectTheWholeRequestWithDetails(backend: Backend) throws {
        let server = try ServerProcess(backend: backend)
        let key = try server.createKey("writer", scopes: "write:events,read:events")
        let body = #"{"events":[{"event_type":"tool_use","session_id":"\#(Self.session)","timestamp":"2026-02-17T10:30:00Z"},{"event_type":"nope","session_id":"not-a-uuid","timestamp":"yesterday"}]}"#
        let response = try server.post("/api/v1/events", key: key, json: body)
        #expect(response.status == 400)
        #expect(response.error["code"] as? String == "VALIDATION_ERROR")
        #expect(response.error["message"] as? String == "Request body is invalid.")
        let details = response.error["details"] as? [[String: String]] ?? []
        #expect(details.contains { $0["field"] == "events[1].session_id" && $0["message"] == "Invalid UUID format" })
        #expect(details.contains { $0["field"] == "events[1].event_type" })
        #expect(details.contains { $0["field"] == "events[1].timestamp" })
        #expect(try server.get("/v1/stats", key: key).json["records"] as? Int == 0)
        let malformed = try server.post("/api/v1/events", key: key, json: "[")
        #expect(malformed.status == 400)
        #expect(malformed.error["message"] as? String == "Request body is invalid.")
    }

    @Test(arguments: Backend.all) func trenchcoatPluginShapeIsAccepted(backend: Backend) throws {
        let server = try ServerProcess(backend: backend)
        let key = try server.createKey("writer", scopes: "write:events,read:events")
        let body = #"{"events":[{"ts":"2026-02-17T10:30:00.123Z","event":"prompt_submit","session_id":"\#(Self.session)","seq":7,"data":{"agent_id":"planner","prompt":"hi"}},{"ts":1771324200000,"event":"skill_use","session_id":"\#(Self.session)","seq":8}]}"#
        let response = try server.post("/api/v1/events", key: key, json: body)
        #expect(response.status == 200)
        let events = try server.get("/v1/events", key: key).json["events"] as? [[String: Any]] ?? []
        #expect(events.map { $0["action_type"] as? String } == ["PROMPT_SUBMIT", "SKILL_USE"])
        #expect(events.first?["agent_id"] as? String == "planner")
        #expect(events.last?["timestamp"] as? String == "2026-02-17T10:30:00.000000Z")
    }

    @Test(arguments: Backend.all) func bodyOverTheLimitIsAnswered413(backend: Backend) throws {
        let server = try ServerProcess(backend: backend, extraArguments: ["--max-body", "64KiB"])
        let key = try server.createKey("writer", scopes: "write:events")
        let big = #"{"agent_id":"a","metadata":{"x":""# + String(repeating: "y", count: 100_000) + #""}}"#
        let response = try server.post("/v1/events", key: key, json: big)
        #expect(response.status == 413)
        #expect(response.error["code"] as? String == "PAYLOAD_TOO_LARGE")
    }
}
