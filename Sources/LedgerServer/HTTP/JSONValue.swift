import LedgerCore

/// A small JSON tree for response bodies that are not records (errors, summaries).
/// Records themselves are copied as their canonical bytes (`.raw`), never re-encoded.
public indirect enum JSONValue {
    case null
    case bool(Bool)
    case int(Int64)
    case string(String)
    case array([JSONValue])
    /// Members in the order given.
    case object([(String, JSONValue)])
    /// Bytes that are already JSON (a stored record).
    case raw([UInt8])

    public static func uint(_ value: UInt64) -> JSONValue { .int(Int64(value)) }
    public static func optional(_ value: String?) -> JSONValue { value.map { .string($0) } ?? .null }

    public func encoded() -> [UInt8] {
        var out: [UInt8] = []
        write(into: &out)
        return out
    }

    public func write(into out: inout [UInt8]) {
        switch self {
        case .null: out.append(contentsOf: Array("null".utf8))
        case let .bool(value): out.append(contentsOf: Array((value ? "true" : "false").utf8))
        case let .int(value): out.append(contentsOf: Array(String(value).utf8))
        case let .string(value): JSONEscapes.writeCanonicalString(value, into: &out)
        case let .raw(bytes): out.append(contentsOf: bytes)
        case let .array(items):
            out.append(UInt8(ascii: "["))
            for (index, item) in items.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                item.write(into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case let .object(members):
            out.append(UInt8(ascii: "{"))
            for (index, (name, value)) in members.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                JSONEscapes.writeCanonicalString(name, into: &out)
                out.append(UInt8(ascii: ":"))
                value.write(into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }
}
