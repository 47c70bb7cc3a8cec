import Testing
@testable import LedgerCore

/// FORMAT.md §2: every field rule, with accepting and rejecting cases.
@Suite struct RecordValidatorTests {
    static func validate(_ json: String, mode: RecordValidator.Mode = .event) -> RecordError? {
        let bytes = Array(json.utf8)
        var tape = JSONTape()
        do { try tape.parse(bytes) } catch { return RecordError(.malformedJSON, error.description) }
        var slots = RecordFieldSlots()
        return bytes.withUnsafeBytes { buffer in
            do throws(RecordError) {
                try RecordValidator.validate(tape, bytes: buffer, mode: mode, into: &slots)
                return nil
            } catch { return error }
        }
    }

    static let uuid = "0192f5e0-7c1a-7abc-8def-0123456789ab"

    @Test(arguments: [
        #"{"agent_id":"a"}"#,
        #"{"agent_id":"\#(String(repeating: "x", count: 256))"}"#,
        #"{"agent_id":"é-agent","id":"\#(uuid)","schema_version":"1.0"}"#,
        #"{"agent_id":"a","session_id":"","source":"hook","capture_method":"unix-socket"}"#,
        #"{"agent_id":"a","action_type":"TOOL_CALL","action_name":"Bash"}"#,
        #"{"agent_id":"a","action_type":"X"}"#,
        #"{"agent_id":"a","action_type":"A\#(String(repeating: "B", count: 63))"}"#,
        #"{"agent_id":"a","action_input":{"x":[1,null]},"action_output":"ok","metadata":{"k":null}}"#,
        #"{"agent_id":"a","action_input":null,"session_id":null,"labels":null}"#,  // top-level nulls are absent
        #"{"agent_id":"a","action_status":"success"}"#,
        #"{"agent_id":"a","action_status":"cancelled","error_message":"boom"}"#,
        #"{"agent_id":"a","timestamp":"2026-02-17T10:30:00Z"}"#,
        #"{"agent_id":"a","timestamp":"2024-02-29T23:59:60.123456789+05:30"}"#,
        #"{"agent_id":"a","timestamp":"2026-02-17t10:30:00z"}"#,
        #"{"agent_id":"a","duration_ms":0}"#,
        #"{"agent_id":"a","duration_ms":9007199254740991}"#,
        #"{"agent_id":"a","duration_ms":1.5e3}"#,
        #"{"agent_id":"a","labels":{"env":"prod","":"empty name is fine"}}"#,
        #"{"agent_id":"a","labels":{}}"#,
    ])
    func acceptsValidEvents(_ json: String) {
        #expect(Self.validate(json) == nil, "\(json)")
    }

    @Test(arguments: [
        // (event, field the error must name)
        (#"[]"#, nil as String?),
        (#"{}"#, "agent_id"),
        (#"{"agent_id":null}"#, "agent_id"),
        (#"{"agent_id":""}"#, "agent_id"),
        (#"{"agent_id":"\#(String(repeating: "x", count: 257))"}"#, "agent_id"),
        (#"{"agent_id":"a\nb"}"#, "agent_id"),
        (#"{"agent_id":"a\u007fb"}"#, "agent_id"),
        (#"{"agent_id":"a\u0085b"}"#, "agent_id"),
        (#"{"agent_id":7}"#, "agent_id"),
        (#"{"agent_id":"a","id":"not-a-uuid"}"#, "id"),
        (#"{"agent_id":"a","id":"0192F5E0-7C1A-7ABC-8DEF-0123456789AB"}"#, "id"),
        (#"{"agent_id":"a","schema_version":"2.0"}"#, "schema_version"),
        (#"{"agent_id":"a","schema_version":1.0}"#, "schema_version"),
        (#"{"agent_id":"a","session_id":"\#(String(repeating: "s", count: 257))"}"#, "session_id"),
        (#"{"agent_id":"a","source":"\#(String(repeating: "s", count: 65))"}"#, "source"),
        (#"{"agent_id":"a","capture_method":"\#(String(repeating: "s", count: 65))"}"#, "capture_method"),
        (#"{"agent_id":"a","action_type":"tool_call"}"#, "action_type"),
        (#"{"agent_id":"a","action_type":"1ABC"}"#, "action_type"),
        (#"{"agent_id":"a","action_type":"A\#(String(repeating: "B", count: 64))"}"#, "action_type"),
        (#"{"agent_id":"a","action_type":""}"#, "action_type"),
        (#"{"agent_id":"a","action_name":"\#(String(repeating: "n", count: 257))"}"#, "action_name"),
        (#"{"agent_id":"a","action_status":"ok"}"#, "action_status"),
        (#"{"agent_id":"a","error_message":"\#(String(repeating: "e", count: 65_537))"}"#, "error_message"),
        (#"{"agent_id":"a","timestamp":"2026-02-17 10:30:00Z"}"#, "timestamp"),
        (#"{"agent_id":"a","timestamp":"2026-02-17T10:30:00"}"#, "timestamp"),
        (#"{"agent_id":"a","timestamp":"2026-02-30T10:30:00Z"}"#, "timestamp"),
        (#"{"agent_id":"a","timestamp":"2025-02-29T10:30:00Z"}"#, "timestamp"),
        (#"{"agent_id":"a","timestamp":"2026-02-17T24:00:00Z"}"#, "timestamp"),
        (#"{"agent_id":"a","timestamp":"2026-02-17T10:30:00+0100"}"#, "timestamp"),
        (#"{"agent_id":"a","timestamp":1771324200}"#, "timestamp"),
        (#"{"agent_id":"a","duration_ms":-1}"#, "duration_ms"),
        (#"{"agent_id":"a","duration_ms":1.5}"#, "duration_ms"),
        (#"{"agent_id":"a","duration_ms":9007199254740992}"#, "duration_ms"),
        (#"{"agent_id":"a","duration_ms":"5"}"#, "duration_ms"),
        (#"{"agent_id":"a","labels":[]}"#, "labels"),
        (#"{"agent_id":"a","labels":{"env":1}}"#, "labels.env"),
        (#"{"agent_id":"a","labels":{"env":"\#(String(repeating: "v", count: 1025))"}}"#, "labels.env"),
        (#"{"agent_id":"a","labels":{"\#(String(repeating: "k", count: 129))":"v"}}"#, "labels.\(String(repeating: "k", count: 129))"),
        (#"{"agent_id":"a","metadata":[1]}"#, "metadata"),
        (#"{"agent_id":"a","colour":"red"}"#, "colour"),
        (#"{"agent_id":"a","host_id":"h"}"#, "host_id"),
        (#"{"agent_id":"a","received_at":"2026-02-17T10:30:00Z"}"#, "received_at"),
        (#"{"agent_id":"a","origin":{}}"#, "origin"),
        (#"{"agent_id":"a","sequence":1}"#, "sequence"),
        (#"{"agent_id":"a","host_seq":1}"#, "host_seq"),
        (#"{"agent_id":"a","prev_hash":"00"}"#, "prev_hash"),
        (#"{"agent_id":"a","hash":null}"#, "hash"),   // even null: a ledger field must not be sent
    ])
    func rejectsAndNamesTheField(_ json: String, _ field: String?) throws {
        let error = try #require(Self.validate(json), "\(json.prefix(80))")
        #expect(error.code == .validation)
        #expect(error.field == field, "\(json.prefix(80)): \(error)")
    }

    @Test func tooManyLabelsIsRejected() throws {
        let members = (0...64).map { "\"k\($0)\":\"v\"" }.joined(separator: ",")
        let error = try #require(Self.validate("{\"agent_id\":\"a\",\"labels\":{\(members)}}"))
        #expect(error.field == "labels")
        let ok = (0..<64).map { "\"k\($0)\":\"v\"" }.joined(separator: ",")
        #expect(Self.validate("{\"agent_id\":\"a\",\"labels\":{\(ok)}}") == nil)
    }

    @Test func lengthsCountDecodedBytes() {
        // 256 escaped characters: 1,536 bytes on the wire, 256 bytes of UTF-8.
        let escaped = String(repeating: "\\u0061", count: 256)
        #expect(Self.validate("{\"agent_id\":\"\(escaped)\"}") == nil)
        #expect(Self.validate("{\"agent_id\":\"\(escaped)a\"}")?.field == "agent_id")
    }

    @Test func errorJSONNamesCodeFieldAndMessage() throws {
        let error = try #require(Self.validate(#"{"agent_id":"a","labels":{"env":1}}"#))
        var out: [UInt8] = []
        error.writeJSON(into: &out)
        #expect(String(decoding: out, as: UTF8.self)
            == #"{"code":"VALIDATION_ERROR","field":"labels.env","message":"label values must be strings"}"#)
    }
}
