#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// The top-level members of a record (FORMAT.md §2).

/// Every top-level member a record can have.
///
/// Frozen order: the cases are listed in RFC 8785 member order (all names are
/// ASCII, so byte order is UTF-16 order), and `RecordEncoder` writes a record by
/// walking `allCases` in this order. Do not reorder; `RecordFieldTests` pins it.
public enum RecordField: Int, CaseIterable, Sendable {
    case actionInput, actionName, actionOutput, actionStatus, actionType, agentID
    case captureMethod, durationMS, errorMessage, hash, hostID, hostSeq, id, labels
    case metadata, origin, prevHash, receivedAt, schemaVersion, sequence, sessionID
    case source, timestamp

    public var name: String {
        switch self {
        case .actionInput: "action_input"
        case .actionName: "action_name"
        case .actionOutput: "action_output"
        case .actionStatus: "action_status"
        case .actionType: "action_type"
        case .agentID: "agent_id"
        case .captureMethod: "capture_method"
        case .durationMS: "duration_ms"
        case .errorMessage: "error_message"
        case .hash: "hash"
        case .hostID: "host_id"
        case .hostSeq: "host_seq"
        case .id: "id"
        case .labels: "labels"
        case .metadata: "metadata"
        case .origin: "origin"
        case .prevHash: "prev_hash"
        case .receivedAt: "received_at"
        case .schemaVersion: "schema_version"
        case .sequence: "sequence"
        case .sessionID: "session_id"
        case .source: "source"
        case .timestamp: "timestamp"
        }
    }

    /// Set only by the ledger; a writer that sends one is rejected.
    public var isLedgerOnly: Bool {
        switch self {
        case .hostID, .receivedAt, .origin, .sequence, .hostSeq, .prevHash, .hash: true
        default: false
        }
    }

    /// `"name":`, ready to append without touching the heap.
    var quotedName: StaticString {
        switch self {
        case .actionInput: "\"action_input\":"
        case .actionName: "\"action_name\":"
        case .actionOutput: "\"action_output\":"
        case .actionStatus: "\"action_status\":"
        case .actionType: "\"action_type\":"
        case .agentID: "\"agent_id\":"
        case .captureMethod: "\"capture_method\":"
        case .durationMS: "\"duration_ms\":"
        case .errorMessage: "\"error_message\":"
        case .hash: "\"hash\":"
        case .hostID: "\"host_id\":"
        case .hostSeq: "\"host_seq\":"
        case .id: "\"id\":"
        case .labels: "\"labels\":"
        case .metadata: "\"metadata\":"
        case .origin: "\"origin\":"
        case .prevHash: "\"prev_hash\":"
        case .receivedAt: "\"received_at\":"
        case .schemaVersion: "\"schema_version\":"
        case .sequence: "\"sequence\":"
        case .sessionID: "\"session_id\":"
        case .source: "\"source\":"
        case .timestamp: "\"timestamp\":"
        }
    }

    /// Looks a member name up by its raw (escape-free) bytes.
    static func lookup(_ name: UnsafeRawBufferPointer) -> RecordField? {
        // Dispatch on length and first byte first: this runs for every member of every event.
        guard name.count >= 2, name.count <= 14 else { return nil }
        for field in candidates[Int(name[0])] {
            let bytes = fieldNames[field.rawValue]
            if bytes.count == name.count, bytes.withUnsafeBytes({ memcmp($0.baseAddress!, name.baseAddress!, name.count) == 0 }) {
                return field
            }
        }
        return nil
    }

    private static let fieldNames: [[UInt8]] = allCases.map { Array($0.name.utf8) }
    private static let candidates: [[RecordField]] = {
        var table = [[RecordField]](repeating: [], count: 256)
        for field in allCases { table[Int(field.name.utf8.first!)].append(field) }
        return table
    }()
}

/// The well-known values of `action_status`.
public enum ActionStatus: String, CaseIterable, Sendable {
    case success, error, timeout, cancelled
}
