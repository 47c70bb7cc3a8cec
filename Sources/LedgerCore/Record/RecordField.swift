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
        // Length and at most two bytes select the one candidate; a single comparison
        // confirms it. No tables, hence no lazy-global checks or reference counting.
        let count = name.count
        guard count >= 2, count <= 14 else { return nil }
        let first = name[0]
        let candidate: RecordField
        switch count {
        case 2: candidate = .id
        case 4: candidate = .hash
        case 6: candidate = first == UInt8(ascii: "l") ? .labels : first == UInt8(ascii: "o") ? .origin : .source
        case 7: candidate = .hostID
        case 8:
            switch first {
            case UInt8(ascii: "a"): candidate = .agentID
            case UInt8(ascii: "h"): candidate = .hostSeq
            case UInt8(ascii: "m"): candidate = .metadata
            default: candidate = .sequence
            }
        case 9: candidate = first == UInt8(ascii: "p") ? .prevHash : .timestamp
        case 10: candidate = .sessionID
        case 11:
            switch first {
            case UInt8(ascii: "a"): candidate = name[7] == UInt8(ascii: "n") ? .actionName : .actionType
            case UInt8(ascii: "d"): candidate = .durationMS
            default: candidate = .receivedAt
            }
        case 12: candidate = .actionInput
        case 13:
            switch first {
            case UInt8(ascii: "a"): candidate = name[7] == UInt8(ascii: "o") ? .actionOutput : .actionStatus
            default: candidate = .errorMessage
            }
        case 14: candidate = first == UInt8(ascii: "c") ? .captureMethod : .schemaVersion
        default: return nil
        }
        let quoted = candidate.quotedName  // "name":
        guard quoted.utf8CodeUnitCount - 3 == count else { return nil }
        // SAFETY: quoted holds the name's `count` bytes from offset 1; name holds `count`.
        let expected = UnsafeRawPointer(quoted.utf8Start + 1)
        let actual = name.baseAddress!
        if count >= 8 {
            // Two overlapping 8-byte words cover 8 to 16 bytes.
            let equal = expected.loadUnaligned(as: UInt64.self) == actual.loadUnaligned(as: UInt64.self)
                && expected.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self)
                    == actual.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self)
            return equal ? candidate : nil
        }
        return memcmp(expected, actual, count) == 0 ? candidate : nil
    }
}

/// The well-known values of `action_status`.
public enum ActionStatus: String, CaseIterable, Sendable {
    case success, error, timeout, cancelled

    /// Whether `text` is the UTF-8 of one of the statuses (no String per record).
    static func isName(_ text: UnsafeRawBufferPointer) -> Bool {
        allCases.contains { status in
            status.rawValue.utf8.elementsEqual(text)
        }
    }
}
