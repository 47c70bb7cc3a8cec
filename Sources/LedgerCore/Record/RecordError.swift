/// Why an event was refused. Serialized to writers as
/// `{"code":"VALIDATION_ERROR","field":"labels.env","message":"…"}`.
public struct RecordError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// The event is JSON but breaks a rule of FORMAT.md §2 (a missing `agent_id`, an
        /// unknown or ledger-only field, a value of the wrong type or size). `field` names it.
        case validation = "VALIDATION_ERROR"
        /// The line is not I-JSON (FORMAT.md §1). `message` says what and where.
        case malformedJSON = "MALFORMED_JSON"
        /// The line or the record built from it is larger than the limit (1 MiB by default).
        case tooLarge = "TOO_LARGE"
    }

    public var code: Code
    /// The offending field as a path (`agent_id`, `labels.env`), when one field is to blame.
    public var field: String?
    public var message: String

    public init(_ code: Code, field: String? = nil, _ message: String) {
        self.code = code
        self.field = field
        self.message = message
    }

    public static func validation(_ field: String?, _ message: String) -> RecordError {
        RecordError(.validation, field: field, message)
    }

    public var description: String {
        field.map { "\(code.rawValue) \($0): \(message)" } ?? "\(code.rawValue): \(message)"
    }

    /// Appends `{"code":…,"field":…,"message":…}` (canonical; `field` omitted when nil).
    public func writeJSON(into out: inout [UInt8]) {
        out.append(contentsOf: Array("{\"code\":\"\(code.rawValue)\",".utf8))
        if let field {
            out.append(contentsOf: Array("\"field\":".utf8))
            JSONEscapes.writeCanonicalString(field, into: &out)
            out.append(UInt8(ascii: ","))
        }
        out.append(contentsOf: Array("\"message\":".utf8))
        JSONEscapes.writeCanonicalString(message, into: &out)
        out.append(UInt8(ascii: "}"))
    }
}
