import LedgerCore
import LedgerPosix

/// The relay's cursor file, which ledgerd reads (never writes) to learn what the server
/// acknowledged, for retention. ledger-relay writes it atomically (temp file, fsync,
/// rename) after each 2xx, as one JSON object on one line, for example
/// `{"acked_host_seq":52116,"host_id":"web-1"}`. docs/JOURNAL.md is the normative description.
public struct RelayCursor: Equatable, Sendable {
    /// The default path, from ledger-relay's default state directory.
    public static let defaultPath = "/var/lib/ledger-relay/cursor"

    /// The last host_seq the server acknowledged (0 = none).
    public var ackedHostSeq: UInt64
    /// The host_id of the journal these host_seq values belong to. Every ledger-relay build
    /// has written it; nil only in a file written by hand or by another program.
    public var hostID: String?

    public init(ackedHostSeq: UInt64, hostID: String?) {
        self.ackedHostSeq = ackedHostSeq
        self.hostID = hostID
    }

    /// The cursor in file bytes, or nil when they are not a valid cursor (`acked_host_seq`
    /// missing or not a non-negative integer, `host_id` present but not a string).
    public static func parse(_ bytes: [UInt8]) -> RelayCursor? {
        var tape = JSONTape()
        return bytes.withUnsafeBytes { raw -> RelayCursor? in
            do { try tape.parse(raw) } catch { return nil }
            guard tape.root.kind == .object, let value = tape.value(of: "acked_host_seq", in: 0, bytes: raw),
                  let number = tape.exactInteger(value, bytes: raw), number >= 0 else { return nil }
            var hostID: String?
            if let host = tape.value(of: "host_id", in: 0, bytes: raw) {
                guard tape[host].kind == .string else { return nil }
                hostID = tape.string(host, bytes: raw)
            }
            return RelayCursor(ackedHostSeq: UInt64(number), hostID: hostID)
        }
    }

    /// The cursor at `path`, or nil when the file is missing or unreadable.
    public static func read(path: String) -> RelayCursor? {
        guard let bytes = try? FileSystem.readFile(path, limit: 1 << 16) else { return nil }
        return parse(bytes)
    }

    /// Whether this cursor names a position of the journal of `hostID`, byte for byte (Swift's
    /// String equality would take two spellings of one name for the same host).
    public func belongs(to hostID: String) -> Bool {
        self.hostID.map { $0.utf8.elementsEqual(hostID.utf8) } ?? false
    }

    /// The cursor file's content for `ackedHostSeq` (used by tests and by the relay).
    public static func encode(ackedHostSeq: UInt64, hostID: String? = nil) -> [UInt8] {
        var out = Array("{\"acked_host_seq\":\(ackedHostSeq)".utf8)
        if let hostID {
            out.append(contentsOf: Array(",\"host_id\":".utf8))
            JSONEscapes.writeCanonicalString(hostID, into: &out)
        }
        out.append(contentsOf: Array("}\n".utf8))
        return out
    }

    /// What ledgerd may believe of the cursor file for its own journal.
    public enum Standing: Equatable, Sendable {
        /// The server holds every record up to the cursor's `ackedHostSeq`.
        case acknowledged(RelayCursor)
        /// No cursor (no relay yet, or unreadable): nothing counts as forwarded.
        case absent
        /// A cursor that cannot be about this journal; nothing counts as forwarded. `reason`
        /// names what is wrong and what to do.
        case ignored(RelayCursor, reason: String)

        /// The acknowledged host_seq retention and status may use.
        public var ackedHostSeq: UInt64? {
            if case let .acknowledged(cursor) = self { return cursor.ackedHostSeq }
            return nil
        }

        public var ignoredReason: String? {
            if case let .ignored(_, reason) = self { return reason }
            return nil
        }
    }

    /// Judges the cursor at `path` for the journal of `hostID` whose last handed-out host_seq is
    /// `lastHostSeq`. A cursor of another host_id, or without one, or past `lastHostSeq`, was
    /// written for another journal (a reinstall, a new --host-id, a wiped data directory, a
    /// cloned VM image): believing it would delete records the server never received.
    public static func standing(path: String, hostID: String, lastHostSeq: UInt64) -> Standing {
        guard let cursor = read(path: path) else { return .absent }
        let consequence = "nothing counts as forwarded, so retention keeps every segment; ledger-relay refuses "
            + "to start with this cursor (docs/OPERATIONS.md, \"relay refuses to start\")"
        guard let cursorHost = cursor.hostID else {
            return .ignored(cursor, reason: "the relay cursor \(path) names no host_id (ledger-relay always writes "
                            + "one): \(consequence)")
        }
        guard cursor.belongs(to: hostID) else {
            return .ignored(cursor, reason: "the relay cursor \(path) belongs to host \"\(cursorHost)\", this "
                            + "journal to host \"\(hostID)\": \(consequence)")
        }
        guard cursor.ackedHostSeq <= lastHostSeq else {
            return .ignored(cursor, reason: "the relay cursor \(path) is at host_seq \(cursor.ackedHostSeq), past "
                            + "the last one this journal handed out (\(lastHostSeq)): it was written for an earlier "
                            + "journal of host \"\(hostID)\"; \(consequence)")
        }
        return .acknowledged(cursor)
    }
}

/// ledgerd's memory of a relay cursor it found not to belong to its journal, shared by
/// retention (journal thread) and the status document (socket loop), so both say the same.
///
/// Sticky for the life of the process: a legitimate cursor never names a host_seq this journal
/// has not handed out, so a cursor that once did is left over from an earlier journal, and
/// stays so after this journal has grown past it (believing it then would let retention delete
/// the new journal's first records as forwarded).
public final class RelayCursorJudge: @unchecked Sendable {
    // @unchecked: `refused` and `believed` are only touched under `lock`.
    private let lock = Lock()
    private var refused: (cursor: RelayCursor, reason: String)?
    private var believed = true

    public init() {}

    /// How the standing of the cursor changed since the previous call, for logging it once.
    public enum Change: Equatable, Sendable {
        case none
        /// Ignored from now on (another cursor than the last one ignored, or the first).
        case ignored
        /// Believed again after a cursor was ignored.
        case believed
    }

    public func judge(path: String, hostID: String, lastHostSeq: UInt64) -> (RelayCursor.Standing, Change) {
        var standing = RelayCursor.standing(path: path, hostID: hostID, lastHostSeq: lastHostSeq)
        return lock.withLock {
            if case let .acknowledged(cursor) = standing, let refused, refused.cursor == cursor {
                standing = .ignored(cursor, reason: refused.reason)
            }
            switch standing {
            case let .ignored(cursor, reason):
                defer { believed = false }
                if refused?.cursor == cursor { return (standing, .none) }
                refused = (cursor, reason)
                return (standing, .ignored)
            case .acknowledged:
                defer { believed = true }
                return (standing, believed ? .none : .believed)
            case .absent:
                return (standing, .none)
            }
        }
    }
}
