import LedgerCore
import LedgerPosix

/// The relay's cursor file, which ledgerd reads (never writes) to learn what the server
/// acknowledged, for retention. ledger-relay writes it atomically (temp file, fsync,
/// rename) after each 2xx, as one JSON object on one line, for example
/// `{"acked_host_seq":52116,"host_id":"web-1"}`. ledgerd needs only `acked_host_seq`
/// (a non-negative integer, the last host_seq the server acknowledged; 0 = none) and
/// ignores other members. docs/JOURNAL.md is the normative description.
public enum RelayCursor {
    /// The default path, from ledger-relay's default state directory.
    public static let defaultPath = "/var/lib/ledger-relay/cursor"

    /// `acked_host_seq` from cursor file bytes, or nil when they are not a valid cursor.
    public static func parse(_ bytes: [UInt8]) -> UInt64? {
        var tape = JSONTape()
        return bytes.withUnsafeBytes { raw -> UInt64? in
            do { try tape.parse(raw) } catch { return nil }
            guard tape.root.kind == .object, let value = tape.value(of: "acked_host_seq", in: 0, bytes: raw),
                  let number = tape.exactInteger(value, bytes: raw), number >= 0 else { return nil }
            return UInt64(number)
        }
    }

    /// The acknowledged host_seq, or nil when the file is missing or unreadable (then
    /// nothing counts as forwarded).
    public static func read(path: String) -> UInt64? {
        guard let bytes = try? FileSystem.readFile(path, limit: 1 << 16) else { return nil }
        return parse(bytes)
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
}
