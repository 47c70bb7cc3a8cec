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
        // The cases are in byte order, so a first letter selects a contiguous run of them;
        // no tables, hence no lazy-global checks or reference counting per member.
        guard name.count >= 2, name.count <= 14 else { return nil }
        let range: ClosedRange<Int>
        switch name[0] {
        case UInt8(ascii: "a"): range = RecordField.actionInput.rawValue...RecordField.agentID.rawValue
        case UInt8(ascii: "c"): range = RecordField.captureMethod.rawValue...RecordField.captureMethod.rawValue
        case UInt8(ascii: "d"): range = RecordField.durationMS.rawValue...RecordField.durationMS.rawValue
        case UInt8(ascii: "e"): range = RecordField.errorMessage.rawValue...RecordField.errorMessage.rawValue
        case UInt8(ascii: "h"): range = RecordField.hash.rawValue...RecordField.hostSeq.rawValue
        case UInt8(ascii: "i"): range = RecordField.id.rawValue...RecordField.id.rawValue
        case UInt8(ascii: "l"): range = RecordField.labels.rawValue...RecordField.labels.rawValue
        case UInt8(ascii: "m"): range = RecordField.metadata.rawValue...RecordField.metadata.rawValue
        case UInt8(ascii: "o"): range = RecordField.origin.rawValue...RecordField.origin.rawValue
        case UInt8(ascii: "p"): range = RecordField.prevHash.rawValue...RecordField.prevHash.rawValue
        case UInt8(ascii: "r"): range = RecordField.receivedAt.rawValue...RecordField.receivedAt.rawValue
        case UInt8(ascii: "s"): range = RecordField.schemaVersion.rawValue...RecordField.source.rawValue
        case UInt8(ascii: "t"): range = RecordField.timestamp.rawValue...RecordField.timestamp.rawValue
        default: return nil
        }
        for rawValue in range {
            let field = RecordField(rawValue: rawValue)!
            let quoted = field.quotedName  // "name":
            // SAFETY: quoted holds the name between offsets 1 and count - 2.
            if quoted.utf8CodeUnitCount - 3 == name.count,
               memcmp(quoted.utf8Start + 1, name.baseAddress!, name.count) == 0 {
                return field
            }
        }
        return nil
    }
}

/// The well-known values of `action_status`.
public enum ActionStatus: String, CaseIterable, Sendable {
    case success, error, timeout, cancelled
}
