/// Why a document is not accepted as I-JSON (RFC 7493) under FORMAT.md §1.
///
/// Every case carries the byte offset where the problem was found so that a
/// writer can find it in the line it sent.
public struct JSONError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Reason: String, Sendable {
        /// The bytes are not JSON at all (a stray character, a missing comma, an
        /// unterminated string, trailing data). Fix the writer's serializer.
        case syntax
        /// A string contains bytes that are not UTF-8, or an encoded surrogate.
        /// Send text as UTF-8; binary data belongs in base64.
        case invalidUTF8
        /// A `\u` escape names half of a surrogate pair without the other half.
        /// Such text cannot be represented in UTF-8; escape the whole pair.
        case loneSurrogate
        /// An object repeats a member name (after unescaping). Every name must be unique.
        case duplicateName
        /// A number's value would change when read as an IEEE-754 double (too many
        /// digits, or beyond the double range). Send the number as a string.
        case inexactNumber
        /// Objects and arrays nest deeper than the limit (64). Flatten the payload.
        case tooDeep
        /// The input is empty or only whitespace.
        case empty
    }

    public var reason: Reason
    /// Byte offset in the input where the problem was detected.
    public var offset: Int
    public var message: String

    public init(_ reason: Reason, at offset: Int, _ message: String) {
        self.reason = reason
        self.offset = offset
        self.message = message
    }

    public var description: String { "\(message) (at byte \(offset))" }
}
