// Field rules of FORMAT.md §2, checked on a parsed tape. Proven by the tables in
// Tests/LedgerCoreTests/RecordValidatorTests.swift.

/// Node indices of a record's top-level members, one slot per `RecordField`
/// (-1 when absent). Reused across records to avoid allocating per event.
public struct RecordFieldSlots: Sendable {
    var slots = [Int32](repeating: -1, count: RecordField.allCases.count)

    public init() {}

    @inline(__always) public subscript(field: RecordField) -> Int? {
        let value = slots[field.rawValue]
        return value < 0 ? nil : Int(value)
    }

    mutating func reset() {
        for i in slots.indices { slots[i] = -1 }
    }
}

public enum RecordValidator {
    public enum Mode: Sendable {
        /// What a writer sends: ledger-only fields are refused, `agent_id` is required.
        case event
        /// A record as stored and exported: every ledger field must be present and well formed.
        case stored
    }

    public static let maxLabels = 64
    public static let maxLabelName = 128
    public static let maxLabelValue = 1024

    /// Checks the top-level members of the object at the root of `tape` and records
    /// where each field is. A top-level `null` counts as absent.
    public static func validate(_ tape: JSONTape, bytes: UnsafeRawBufferPointer, mode: Mode,
                                into fields: inout RecordFieldSlots) throws(RecordError) {
        fields.reset()
        guard tape.root.kind == .object else {
            throw .validation(nil, mode == .event ? "an event must be a JSON object" : "a record must be a JSON object")
        }
        for nameIndex in tape.members(of: 0) {
            let nameNode = tape[Int(nameIndex)]
            let valueIndex = Int(nameIndex) + 1
            let field: RecordField? = nameNode.hasEscapes
                ? tape.stringBytes(Int(nameIndex), bytes: bytes).withUnsafeBytes { RecordField.lookup($0) }
                : RecordField.lookup(UnsafeRawBufferPointer(rebasing: bytes[Int(nameNode.start)..<Int(nameNode.end)]))
            guard let field else {
                let name = tape.string(Int(nameIndex), bytes: bytes)
                throw .validation(name, "unknown field \"\(name)\"")
            }
            if field.isLedgerOnly, mode == .event {
                throw .validation(field.name, "\(field.name) is set by the ledger and must not be sent")
            }
            if tape[valueIndex].kind == .null { continue }
            try check(field, valueIndex, tape, bytes, mode)
            fields.slots[field.rawValue] = Int32(valueIndex)
        }
        if fields[.agentID] == nil { throw .validation("agent_id", "agent_id is required") }
        if mode == .stored {
            for field in [RecordField.id, .schemaVersion, .timestamp, .hostID, .receivedAt, .origin,
                          .sequence, .hostSeq, .prevHash, .hash] where fields[field] == nil {
                throw .validation(field.name, "\(field.name) is required in a stored record")
            }
        }
    }

    static func check(_ field: RecordField, _ index: Int, _ tape: JSONTape, _ bytes: UnsafeRawBufferPointer,
                      _ mode: Mode) throws(RecordError) {
        let node = tape[index]
        let name = field.name
        switch field {
        case .actionInput, .actionOutput:
            return
        case .metadata, .origin:
            guard node.kind == .object else { throw .validation(name, "\(name) must be an object") }
        case .id:
            try requireString(node, name)
            guard withText(tape, index, bytes, UUIDText.isCanonical) else {
                throw .validation(name, "id must be a UUID in canonical lowercase form (8-4-4-4-12 hex digits)")
            }
        case .schemaVersion:
            try requireString(node, name)
            guard withText(tape, index, bytes, { $0.count == 3 && $0[0] == 0x31 && $0[1] == 0x2E && $0[2] == 0x30 }) else {
                throw .validation(name, "schema_version must be \"1.0\"")
            }
        case .agentID, .hostID:
            try requireString(node, name)
            let length = byteLength(tape, index, bytes)
            guard length >= 1, length <= 256 else { throw .validation(name, "\(name) must be 1 to 256 bytes of UTF-8") }
            guard !withText(tape, index, bytes, containsControlCharacter) else {
                throw .validation(name, "\(name) must not contain control characters")
            }
        case .sessionID, .actionName: try requireString(tape, index, bytes, name, maxBytes: 256)
        case .source, .captureMethod: try requireString(tape, index, bytes, name, maxBytes: 64)
        case .errorMessage: try requireString(tape, index, bytes, name, maxBytes: 65_536)
        case .actionType:
            try requireString(node, name)
            guard withText(tape, index, bytes, isActionType) else {
                throw .validation(name, "action_type must match [A-Z][A-Z0-9_]{0,63}, e.g. TOOL_CALL")
            }
        case .actionStatus:
            try requireString(node, name)
            guard withText(tape, index, bytes, ActionStatus.isName) else {
                throw .validation(name, "action_status must be one of success, error, timeout, cancelled")
            }
        case .timestamp, .receivedAt:
            try requireString(node, name)
            if let problem = withText(tape, index, bytes, RFC3339.problem(in:)) {
                throw .validation(name, "\(name): \(problem)")
            }
        case .durationMS:
            guard node.kind == .number, let value = tape.exactInteger(index, bytes: bytes), value >= 0 else {
                throw .validation(name, "duration_ms must be an integer from 0 to 2^53-1")
            }
        case .sequence, .hostSeq:
            guard node.kind == .number, let value = tape.exactInteger(index, bytes: bytes), value >= 1 else {
                throw .validation(name, "\(name) must be an integer from 1 to 2^53-1")
            }
        case .prevHash, .hash:
            try requireString(node, name)
            guard withText(tape, index, bytes, { SHA256Digest(hex: $0) != nil }) else {
                throw .validation(name, "\(name) must be 64 lowercase hex digits")
            }
        case .labels:
            try checkLabels(index, tape, bytes)
        }
    }

    static func checkLabels(_ index: Int, _ tape: JSONTape, _ bytes: UnsafeRawBufferPointer) throws(RecordError) {
        guard tape[index].kind == .object else { throw .validation("labels", "labels must be an object of strings") }
        guard tape[index].count <= maxLabels else {
            throw .validation("labels", "labels has \(tape[index].count) members; at most \(maxLabels) are allowed")
        }
        for nameIndex in tape.members(of: index) {
            // Built only for an error message: a String per label cost ~500 instructions.
            var path: String { "labels.\(tape.string(Int(nameIndex), bytes: bytes))" }
            guard byteLength(tape, Int(nameIndex), bytes) <= maxLabelName else {
                throw .validation(path, "label names are at most \(maxLabelName) bytes")
            }
            let value = Int(nameIndex) + 1
            guard tape[value].kind == .string else { throw .validation(path, "label values must be strings") }
            guard byteLength(tape, value, bytes) <= maxLabelValue else {
                throw .validation(path, "label values are at most \(maxLabelValue) bytes")
            }
        }
    }

    @inline(__always)
    static func requireString(_ node: JSONNode, _ name: String) throws(RecordError) {
        guard node.kind == .string else { throw .validation(name, "\(name) must be a string") }
    }

    static func requireString(_ tape: JSONTape, _ index: Int, _ bytes: UnsafeRawBufferPointer, _ name: String,
                              maxBytes: Int) throws(RecordError) {
        try requireString(tape[index], name)
        guard byteLength(tape, index, bytes) <= maxBytes else {
            throw .validation(name, "\(name) must be at most \(maxBytes) bytes")
        }
    }

    /// Decoded UTF-8 length of a string node.
    static func byteLength(_ tape: JSONTape, _ index: Int, _ bytes: UnsafeRawBufferPointer) -> Int {
        let node = tape[index]
        return node.hasEscapes ? tape.stringBytes(index, bytes: bytes).count : Int(node.end - node.start)
    }

    /// Runs `body` over the decoded bytes of a string node without copying escape-free strings.
    @inline(__always)
    static func withText<T>(_ tape: JSONTape, _ index: Int, _ bytes: UnsafeRawBufferPointer,
                            _ body: (UnsafeRawBufferPointer) -> T) -> T {
        let node = tape[index]
        if !node.hasEscapes { return body(UnsafeRawBufferPointer(rebasing: bytes[Int(node.start)..<Int(node.end)])) }
        return tape.stringBytes(index, bytes: bytes).withUnsafeBytes(body)
    }

    /// Unicode general category Cc: U+0000-001F, U+007F, U+0080-009F (UTF-8 C2 80-C2 9F).
    static func containsControlCharacter(_ text: UnsafeRawBufferPointer) -> Bool {
        var i = 0
        while i < text.count {
            let byte = text[i]
            if byte < 0x20 || byte == 0x7F { return true }
            if byte == 0xC2, i + 1 < text.count, text[i + 1] < 0xA0 { return true }
            i += 1
        }
        return false
    }

    static func isActionType(_ text: UnsafeRawBufferPointer) -> Bool {
        guard text.count >= 1, text.count <= 64, text[0] &- 65 < 26 else { return false }
        for byte in text.dropFirst() where !(byte &- 65 < 26 || byte &- 48 < 10 || byte == UInt8(ascii: "_")) {
            return false
        }
        return true
    }
}
