/// One request as the routes see it: the whole body is in memory (capped by the server).
public struct HTTPRequest: Sendable {
    public var method: String
    /// The path without the query string.
    public var path: String
    /// Decoded query arguments, in order (a name may repeat).
    public var query: [(String, String)]
    /// Header names lowercased.
    public var headers: [String: String]
    public var body: [UInt8]

    public init(method: String, path: String, query: [(String, String)] = [], headers: [String: String] = [:],
                body: [UInt8] = []) {
        self.method = method
        self.path = path
        self.query = query
        var lowered: [String: String] = [:]
        for (name, value) in headers { lowered[name.lowercased()] = value }
        self.headers = lowered
        self.body = body
    }

    public func header(_ name: String) -> String? { headers[name.lowercased()] }

    /// The first query argument `name`.
    public func argument(_ name: String) -> String? { query.first { $0.0 == name }?.1 }
}
