import LedgerCore

// Trenchcoat-style ingest: POST /api/v1/events {"events":[…]} (1 … 1,000), all or nothing.
// Two event shapes are accepted:
//   documented: {"event_type","session_id","timestamp","data"?}
//   plugin:     {"event","session_id","ts","seq"?,"data"?}   (ts: RFC 3339 text or epoch milliseconds
//               from 0 to the end of the year 9999)
// Each maps to a record (docs/SERVER.md "Trenchcoat mapping"):
//   agent_id    = data.agent_id when a non-empty string, else the API key's name
//   session_id  = session_id;   action_type = event type upper-cased;   timestamp = timestamp / ts
//   action_name = data.tool_name;  action_input = data.tool_input;  action_output = data.tool_response
//   metadata    = {"trenchcoat":{"event":name,"seq":seq?,"data":{the other members of data}}}
// data.tool_name and data.agent_id must be strings (or null); a member of data that gives its
// record field no value (null, an empty agent_id) stays in metadata, so nothing is dropped.
//   source      = "trenchcoat",  capture_method = "http-api"

struct TrenchcoatEventsResponder: Responder {
    let ingestor: DirectIngestor
    let metrics: ServerMetrics

    static let documentedTypes: Set<String> = [
        "session_start", "session_end", "tool_use", "tool_result", "subagent_stop", "assistant_stop",
    ]
    static let pluginTypes: Set<String> = documentedTypes.union([
        "prompt_submit", "subagent_start", "pre_compact", "skill_use", "error",
    ])

    struct Detail { var field: String; var message: String }

    /// One event mapped to a record, and what it takes to name the client's fields in the
    /// record's errors.
    struct MappedEvent {
        var json: [UInt8]
        /// The plugin shape (`event`, `ts`) rather than the documented one (`event_type`, `timestamp`).
        var plugin: Bool
        /// `agent_id` is `data.agent_id` (else the API key's name).
        var agentFromData: Bool
    }

    static let epochMillisecondsOutOfRange =
        "Out of range: epoch milliseconds must be from 0 to \(RFC3339.utcMicrosecondsRange.upperBound / 1000)"
        + " (9999-12-31T23:59:59.999Z)"

    struct ValidationFailure: HTTPResponseError {
        var details: [Detail]
        var message = "Request body is invalid."
        var status: Int { 400 }
        var code: String { "VALIDATION_ERROR" }
        var extra: [(String, JSONValue)] {
            details.isEmpty ? [] : [("details", .array(details.map {
                .object([("field", .string($0.field)), ("message", .string($0.message))])
            }))]
        }
    }

    func respond(to request: HTTPRequest, context: RequestContext) throws -> HTTPResponse {
        let keyName = context.key?.name ?? "anonymous"
        let events = try request.body.withUnsafeBytes { try Self.map($0, keyName: keyName) }
        let results = try ingestor.ingest(events.map(\.json), origin: .http(keyID: context.key?.id ?? "no-auth"),
                                          receivedAtMicros: context.receivedAtMicros, allOrNothing: true)
        var details: [Detail] = []
        for (index, result) in results.enumerated() {
            if case let .refused(error) = result {
                details.append(Self.detail(for: error, of: events[index], path: "events[\(index)]"))
            }
        }
        guard details.isEmpty else { throw ValidationFailure(details: details) }
        metrics.directRecords(results.count)
        return .json(200, .object([("data", .object([
            ("accepted", .int(Int64(results.count))), ("rejected", .int(0)),
        ]))]))
    }

    /// Validates the whole body and builds one event (JSON bytes) per input event.
    static func map(_ bytes: UnsafeRawBufferPointer, keyName: String) throws -> [MappedEvent] {
        var tape = JSONTape()
        do { try tape.parse(bytes) } catch {
            throw ValidationFailure(details: [Detail(field: "body", message: "Malformed JSON: \(error.description)")])
        }
        guard tape.root.kind == .object, let list = tape.value(of: "events", in: 0, bytes: bytes),
              tape[list].kind == .array else {
            throw ValidationFailure(details: [Detail(field: "events", message: "Required: an array of events")])
        }
        let count = Int(tape[list].count)
        if count > maxEventsPerRequest {
            throw ValidationFailure(details: [Detail(field: "events", message: "Too many events")],
                                    message: "Batch size exceeds limit of \(maxEventsPerRequest) events per request.")
        }
        guard count >= 1 else {
            throw ValidationFailure(details: [Detail(field: "events", message: "At least 1 event is required")])
        }
        var details: [Detail] = []
        var events: [MappedEvent] = []
        for (position, index) in tape.elements(of: list).enumerated() {
            let path = "events[\(position)]"
            guard tape[index].kind == .object else {
                details.append(Detail(field: path, message: "Expected object"))
                continue
            }
            if let event = mapEvent(tape, index, bytes: bytes, path: path, keyName: keyName, details: &details) {
                events.append(event)
            }
        }
        guard details.isEmpty else { throw ValidationFailure(details: details) }
        return events
    }

    private static func mapEvent(_ tape: JSONTape, _ object: Int, bytes: UnsafeRawBufferPointer, path: String,
                                 keyName: String, details: inout [Detail]) -> MappedEvent? {
        func string(_ index: Int?) -> String? {
            guard let index, tape[index].kind == .string else { return nil }
            return tape.string(index, bytes: bytes)
        }
        let before = details.count
        let plugin = tape.value(of: "event_type", in: object, bytes: bytes) == nil
            && tape.value(of: "event", in: object, bytes: bytes) != nil
        let typeName = plugin ? "event" : "event_type"
        let allowed = plugin ? pluginTypes : documentedTypes
        let eventType = string(tape.value(of: plugin ? "event" : "event_type", in: object, bytes: bytes))
        if let eventType {
            if !allowed.contains(eventType) {
                details.append(Detail(field: "\(path).\(typeName)",
                                      message: "Invalid enum value. Expected one of: " + allowed.sorted().joined(separator: ", ")))
            }
        } else {
            details.append(Detail(field: "\(path).\(typeName)", message: "Required"))
        }
        let sessionID = string(tape.value(of: "session_id", in: object, bytes: bytes))
        if sessionID == nil {
            details.append(Detail(field: "\(path).session_id", message: "Required"))
        } else if !isUUID(sessionID!) {
            details.append(Detail(field: "\(path).session_id", message: "Invalid UUID format"))
        }
        let timeName = plugin ? "ts" : "timestamp"
        var timestamp: String?
        if let node = tape.value(of: plugin ? "ts" : "timestamp", in: object, bytes: bytes) {
            if tape[node].kind == .string {
                let text = tape.string(node, bytes: bytes)
                var copy = text
                if copy.withUTF8({ RFC3339.problem(in: UnsafeRawBufferPointer($0)) }) == nil { timestamp = text }
                if timestamp == nil {
                    details.append(Detail(field: "\(path).\(timeName)", message: "Invalid ISO 8601 datetime"))
                }
            } else if plugin, let millis = tape.exactInteger(node, bytes: bytes), millis >= 0 {
                // At most 2^53-1 (exactInteger), so ×1000 cannot overflow. The record's RFC 3339
                // timestamp has a four-digit year: later instants are refused, never wrapped.
                timestamp = RFC3339.utcMicroseconds(ifRepresentable: millis * 1000)
                if timestamp == nil {
                    details.append(Detail(field: "\(path).\(timeName)", message: Self.epochMillisecondsOutOfRange))
                }
            } else {
                details.append(Detail(field: "\(path).\(timeName)", message: "Invalid ISO 8601 datetime"))
            }
        } else {
            details.append(Detail(field: "\(path).\(timeName)", message: "Required"))
        }
        let seqNode = tape.value(of: "seq", in: object, bytes: bytes)
        if let seqNode, tape.exactInteger(seqNode, bytes: bytes) == nil {
            details.append(Detail(field: "\(path).seq", message: "Expected integer"))
        }
        let dataNode = tape.value(of: "data", in: object, bytes: bytes)
        if let dataNode, tape[dataNode].kind != .object, tape[dataNode].kind != .null {
            details.append(Detail(field: "\(path).data", message: "Expected object"))
        }
        let data = dataNode.flatMap { tape[$0].kind == .object ? $0 : nil }
        func dataMember(_ name: StaticString) -> Int? { data.flatMap { tape.value(of: name, in: $0, bytes: bytes) } }
        // Record fields of strings: another type would fit neither the field nor, silently, metadata.
        let agentNode = dataMember("agent_id"), toolNameNode = dataMember("tool_name")
        for (name, node) in [("agent_id", agentNode), ("tool_name", toolNameNode)] {
            if let node, tape[node].kind != .string, tape[node].kind != .null {
                details.append(Detail(field: "\(path).data.\(name)", message: "Expected string"))
            }
        }
        guard details.count == before, let eventType, let sessionID, let timestamp else { return nil }

        var out: [UInt8] = []
        func member(_ name: String, _ write: (inout [UInt8]) -> Void) {
            out.append(out.isEmpty ? UInt8(ascii: "{") : UInt8(ascii: ","))
            JSONEscapes.writeCanonicalString(name, into: &out)
            out.append(UInt8(ascii: ":"))
            write(&out)
        }
        func text(_ value: String) -> (inout [UInt8]) -> Void { { JSONEscapes.writeCanonicalString(value, into: &$0) } }
        func node(_ index: Int) -> (inout [UInt8]) -> Void { { CanonicalJSON.write(tape, index, bytes: bytes, into: &$0) } }

        // The members of data that become record fields; the others (null or an empty agent_id
        // among them: a record field would have no value for them) stay in metadata.
        let dataAgent = string(agentNode).flatMap { $0.isEmpty ? nil : $0 }
        let toolName = string(toolNameNode)
        let input = dataMember("tool_input").flatMap { tape[$0].kind == .null ? nil : $0 }
        let output = dataMember("tool_response").flatMap { tape[$0].kind == .null ? nil : $0 }
        func lifted(_ name: String) -> Bool {
            switch name {
            case "agent_id": dataAgent != nil
            case "tool_name": toolName != nil
            case "tool_input": input != nil
            case "tool_response": output != nil
            default: false
            }
        }
        member("agent_id", text(dataAgent ?? keyName))
        member("session_id", text(sessionID))
        member("action_type", text(eventType.uppercased()))
        member("timestamp", text(timestamp))
        member("source", text("trenchcoat"))
        member("capture_method", text("http-api"))
        if let toolName { member("action_name", text(toolName)) }
        if let input { member("action_input", node(input)) }
        if let output { member("action_output", node(output)) }
        member("metadata") { out in
            out.append(contentsOf: Array("{\"trenchcoat\":{\"data\":{".utf8))
            var first = true
            if let data {
                for nameIndex in tape.members(of: data) {
                    let name = tape.string(Int(nameIndex), bytes: bytes)
                    if lifted(name) { continue }
                    if !first { out.append(UInt8(ascii: ",")) }
                    first = false
                    JSONEscapes.writeCanonicalString(name, into: &out)
                    out.append(UInt8(ascii: ":"))
                    CanonicalJSON.write(tape, Int(nameIndex) + 1, bytes: bytes, into: &out)
                }
            }
            out.append(contentsOf: Array("},\"event\":".utf8))
            JSONEscapes.writeCanonicalString(eventType, into: &out)
            if let seqNode {
                out.append(contentsOf: Array(",\"seq\":".utf8))
                CanonicalJSON.write(tape, seqNode, bytes: bytes, into: &out)
            }
            out.append(contentsOf: Array("}}".utf8))
        }
        out.append(UInt8(ascii: "}"))
        return MappedEvent(json: out, plugin: plugin, agentFromData: dataAgent != nil)
    }

    /// The client's field that a record field is made from.
    static func clientField(of recordField: String, plugin: Bool) -> String? {
        switch recordField {
        case "agent_id": "data.agent_id"
        case "session_id": "session_id"
        case "action_type": plugin ? "event" : "event_type"
        case "timestamp": plugin ? "ts" : "timestamp"
        case "action_name": "data.tool_name"
        case "action_input": "data.tool_input"
        case "action_output": "data.tool_response"
        case "metadata": "data"
        default: nil
        }
    }

    /// A refusal of the record built from `event`, in the client's terms: the field it sent
    /// (`events[0].data.tool_name`, not the record's `action_name`), and a message that names it.
    static func detail(for error: RecordError, of event: MappedEvent, path: String) -> Detail {
        guard let recordField = error.field, let client = clientField(of: recordField, plugin: event.plugin) else {
            return Detail(field: path, message: error.message)
        }
        if recordField == "agent_id", !event.agentFromData {
            return Detail(field: "\(path).\(client)",
                          message: "\(client) is not given (absent, null or empty) and the API key's name, used instead,"
                              + " is not a valid agent_id: \(error.message)")
        }
        var message = error.message
        if message.hasPrefix(recordField) { message = client + message.dropFirst(recordField.count) }
        return Detail(field: "\(path).\(client)", message: message + " (the record's \(recordField))")
    }

    /// 8-4-4-4-12 hexadecimal digits, either case.
    static func isUUID(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count == 36 else { return false }
        for (index, byte) in bytes.enumerated() {
            if [8, 13, 18, 23].contains(index) {
                if byte != UInt8(ascii: "-") { return false }
            } else if !(byte >= 48 && byte <= 57) && !(byte >= 97 && byte <= 102) && !(byte >= 65 && byte <= 70) {
                return false
            }
        }
        return true
    }
}
