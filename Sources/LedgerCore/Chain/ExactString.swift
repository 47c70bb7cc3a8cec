/// A string that is equal only to the same UTF-8 bytes: the identity of a chain's `agent_id`
/// and `host_id` wherever chains are kept in a dictionary.
///
/// Why not `String`: Swift compares and hashes Strings by Unicode canonical equivalence, so
/// `"caf\u{E9}"` and `"cafe\u{301}"` are one dictionary key. FORMAT.md names a chain by the
/// exact string, every store compares bytes, and the independent verifiers compare code
/// points; a String-keyed map would merge two chains into one (a reused sequence, then a
/// fork at the server) or, built with unique keys, trap.
public struct ExactString: Hashable, Comparable, Sendable, CustomStringConvertible,
    ExpressibleByStringInterpolation {
    public let utf8: [UInt8]

    public init(_ text: String) { utf8 = Array(text.utf8) }
    public init(utf8: [UInt8]) { self.utf8 = utf8 }
    public init(stringLiteral value: String) { self.init(value) }

    public var string: String { String(decoding: utf8, as: UTF8.self) }
    public var description: String { string }

    /// Byte order, which for UTF-8 is code point order.
    public static func < (lhs: ExactString, rhs: ExactString) -> Bool {
        lhs.utf8.lexicographicallyPrecedes(rhs.utf8)
    }
}
