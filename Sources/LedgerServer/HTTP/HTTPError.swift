/// An error that knows its HTTP answer. Routes throw these; anything else is a 500 (logged).
public protocol HTTPResponseError: Error {
    var status: Int { get }
    /// Machine-readable code, e.g. `VALIDATION_ERROR`.
    var code: String { get }
    var message: String { get }
    /// Extra members of the `error` object (`field`, `details`, `required_scope`).
    var extra: [(String, JSONValue)] { get }
    /// Extra response headers (`Retry-After` on a 503 the client should repeat).
    var headers: [(String, String)] { get }
}

extension HTTPResponseError {
    public var extra: [(String, JSONValue)] { [] }
    public var headers: [(String, String)] { [] }

    /// `{"error":{"code":…,"message":…,…}}`
    public var response: HTTPResponse {
        var response = HTTPResponse.json(
            status, .object([("error", .object([("code", .string(code)), ("message", .string(message))] + extra))]))
        response.headers += headers
        return response
    }
}

/// The server's own refusals.
public struct APIError: HTTPResponseError {
    public var status: Int
    public var code: String
    public var message: String
    public var extra: [(String, JSONValue)]

    public init(_ status: Int, _ code: String, _ message: String, _ extra: [(String, JSONValue)] = []) {
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra
    }

    public static func badRequest(_ message: String, field: String? = nil) -> APIError {
        APIError(400, "BAD_REQUEST", message, field.map { [("field", .string($0))] } ?? [])
    }
    public static func notFound(_ message: String = "no such resource") -> APIError {
        APIError(404, "NOT_FOUND", message)
    }
    public static let unauthorized = APIError(
        401, "UNAUTHORIZED", "a valid API key is required (X-API-Key or Authorization: Bearer)")
    public static func forbidden(_ scope: Scope) -> APIError {
        APIError(403, "FORBIDDEN", "this endpoint requires the scope \(scope.rawValue)",
                 [("required_scope", .string(scope.rawValue))])
    }
    public static let payloadTooLarge = APIError(413, "PAYLOAD_TOO_LARGE", "the request body exceeds the limit")
    public static let methodNotAllowed = APIError(405, "METHOD_NOT_ALLOWED", "method not allowed on this path")
    public static let unavailable = APIError(503, "UNAVAILABLE", "the server is shutting down; retry")
}

extension StoreError: HTTPResponseError {
    public var status: Int {
        switch self {
        case .conflict: 409
        case .hostRevoked: 403
        case .hostKeyChanged: 401
        case .closed, .unavailable, .headMoved, .transactionLost: 503
        case .corrupt: 500
        }
    }
    public var code: String {
        switch self {
        case .conflict: "CONFLICT"
        case .closed, .unavailable, .transactionLost: "UNAVAILABLE"
        case .headMoved: "CHAIN_HEAD_MOVED"
        case .hostRevoked: "HOST_REVOKED"
        case .hostKeyChanged: "KEY_CHANGED"
        case .corrupt: "INTERNAL"
        }
    }
    public var message: String { description }
    public var headers: [(String, String)] {
        if case .headMoved = self { return [("Retry-After", "1")] }
        return []
    }
}
