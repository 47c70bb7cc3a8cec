import LedgerCore

/// Turns a Claude Code hook payload into one Ledger event (FORMAT.md §2).
///
/// Mapping (docs/CLAUDE-CODE.md):
///
/// | hook_event_name      | action_type     | notes |
/// |----------------------|-----------------|-------|
/// | PreToolUse           | TOOL_CALL       | action_input = tool_input |
/// | PostToolUse          | TOOL_RESULT     | action_status success, action_output = tool_response |
/// | PostToolUseFailure   | TOOL_RESULT     | action_status error, error_message = error |
/// | UserPromptSubmit     | USER_PROMPT     | action_input = {"prompt": …} |
/// | SessionStart         | SESSION_START   | |
/// | SessionEnd           | SESSION_END     | |
/// | Stop                 | ASSISTANT_STOP  | |
/// | SubagentStop         | SUBAGENT_STOP   | |
/// | anything else        | CUSTOM          | action_name = the hook event's name |
///
/// Every other payload member (cwd, transcript_path, permission_mode, agent_id and
/// agent_type inside subagents, tool_use_id, …) is kept under `metadata`, so nothing the
/// hook was given is dropped. Values larger than `maxValueBytes` in canonical form are
/// replaced by a truncation marker that names their size and SHA-256.
struct ClaudeCodeEvent {
    var agentID: String
    var maxValueBytes: Int

    /// Members lifted out of the payload into record fields; the rest go to metadata.
    static let lifted: Set<String> = ["session_id", "tool_name", "tool_input", "tool_response", "prompt", "error"]

    static func actionType(for hookEvent: String?) -> String {
        switch hookEvent {
        case "PreToolUse": "TOOL_CALL"
        case "PostToolUse", "PostToolUseFailure": "TOOL_RESULT"
        case "UserPromptSubmit": "USER_PROMPT"
        case "SessionStart": "SESSION_START"
        case "SessionEnd": "SESSION_END"
        case "Stop": "ASSISTANT_STOP"
        case "SubagentStop": "SUBAGENT_STOP"
        default: "CUSTOM"
        }
    }

    /// The event line (canonical JSON, no newline) for `payload`.
    func event(payload: [UInt8], id: String, timestamp: String) -> [UInt8] {
        var tape = JSONTape()
        let parsed = (try? tape.parse(payload)) != nil && tape.root.kind == .object
        var fields: [(String, (inout [UInt8]) -> Void)] = []
        func text(_ value: String) -> (inout [UInt8]) -> Void { { JSONEscapes.writeCanonicalString(value, into: &$0) } }
        fields.append(("agent_id", text(agentID)))
        fields.append(("id", text(id)))
        fields.append(("source", text("hook")))
        fields.append(("capture_method", text("claude-code-hook")))
        fields.append(("timestamp", text(timestamp)))

        guard parsed else {
            // Still leave a trace: the payload is kept (capped) as text.
            let shown = String(decoding: payload.prefix(4096), as: UTF8.self)
            fields.append(("action_type", text("CUSTOM")))
            fields.append(("action_name", text("unparsed-hook-payload")))
            fields.append(("metadata", { out in
                out.append(contentsOf: Array("{\"payload_bytes\":\(payload.count),\"payload_preview\":".utf8))
                JSONEscapes.writeCanonicalString(shown, into: &out)
                out.append(UInt8(ascii: "}"))
            }))
            return Self.object(fields)
        }
        return payload.withUnsafeBytes { bytes -> [UInt8] in
            func member(_ name: StaticString) -> Int? { tape.value(of: name, in: 0, bytes: bytes) }
            func string(_ name: StaticString, max: Int) -> String? {
                guard let index = member(name), tape[index].kind == .string else { return nil }
                return Self.clipped(tape.string(index, bytes: bytes), max: max)
            }
            let hookEvent = string("hook_event_name", max: 256)
            fields.append(("action_type", text(Self.actionType(for: hookEvent))))
            if let session = string("session_id", max: 256) { fields.append(("session_id", text(session))) }
            if let tool = string("tool_name", max: 256) {
                fields.append(("action_name", text(tool)))
            } else if let hookEvent, Self.actionType(for: hookEvent) == "CUSTOM" {
                fields.append(("action_name", text(hookEvent)))
            }
            if let input = member("tool_input") {
                fields.append(("action_input", capped(tape, input, bytes)))
            } else if let prompt = member("prompt") {
                fields.append(("action_input", { out in
                    out.append(contentsOf: Array("{\"prompt\":".utf8))
                    self.capped(tape, prompt, bytes)(&out)
                    out.append(UInt8(ascii: "}"))
                }))
            }
            if let response = member("tool_response") { fields.append(("action_output", capped(tape, response, bytes))) }
            switch hookEvent {
            case "PostToolUse": fields.append(("action_status", text("success")))
            case "PostToolUseFailure":
                fields.append(("action_status", text("error")))
                if let error = string("error", max: 65_536) { fields.append(("error_message", text(error))) }
            default: break
            }
            fields.append(("metadata", { out in
                out.append(UInt8(ascii: "{"))
                var first = true
                for name in tape.members(of: 0) {
                    let key = tape.string(Int(name), bytes: bytes)
                    if Self.lifted.contains(key) { continue }
                    if !first { out.append(UInt8(ascii: ",")) }
                    first = false
                    JSONEscapes.writeCanonicalString(key, into: &out)
                    out.append(UInt8(ascii: ":"))
                    self.capped(tape, Int(name) + 1, bytes)(&out)
                }
                out.append(UInt8(ascii: "}"))
            }))
            return Self.object(fields)
        }
    }

    /// Writes a value canonically, or the truncation marker when it is larger than the cap:
    /// `{"ledger_truncated":true,"original_bytes":N,"preview":"…","sha256":"…"}`.
    func capped(_ tape: JSONTape, _ index: Int, _ bytes: UnsafeRawBufferPointer) -> (inout [UInt8]) -> Void {
        var value: [UInt8] = []
        CanonicalJSON.write(tape, index, bytes: bytes, into: &value)
        let limit = maxValueBytes
        return { out in
            guard value.count > limit else {
                out.append(contentsOf: value)
                return
            }
            let preview = Self.clipped(String(decoding: value.prefix(min(4096, limit)), as: UTF8.self), max: min(4096, limit))
            out.append(contentsOf: Array("{\"ledger_truncated\":true,\"original_bytes\":\(value.count),\"preview\":".utf8))
            JSONEscapes.writeCanonicalString(preview, into: &out)
            out.append(contentsOf: Array(",\"sha256\":\"\(SHA256.hash(value).hex)\"}".utf8))
        }
    }

    /// At most `max` bytes of UTF-8, cut at a character boundary.
    static func clipped(_ text: String, max: Int) -> String {
        guard text.utf8.count > max else { return text }
        var result = ""
        for character in text {
            if result.utf8.count + character.utf8.count > max { break }
            result.append(character)
        }
        return result
    }

    /// Writes members in RFC 8785 order (the names are ASCII, so byte order is UTF-16 order).
    static func object(_ fields: [(String, (inout [UInt8]) -> Void)]) -> [UInt8] {
        var out: [UInt8] = [UInt8(ascii: "{")]
        for (index, field) in fields.sorted(by: { $0.0 < $1.0 }).enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            JSONEscapes.writeCanonicalString(field.0, into: &out)
            out.append(UInt8(ascii: ":"))
            field.1(&out)
        }
        out.append(UInt8(ascii: "}"))
        return out
    }
}
