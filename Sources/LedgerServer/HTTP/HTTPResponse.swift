/// A body produced piece by piece while it is sent (exports).
public protocol ResponseStream: AnyObject {
    /// Appends the next bytes to `buffer`; returns false at the end. Called on one thread at a time.
    /// Throwing aborts the transfer (the connection is closed without the chunked terminator), so
    /// a client can tell a body cut by a failure from a complete one.
    func next(into buffer: inout [UInt8]) throws -> Bool
}

public struct HTTPResponse {
    public enum Body {
        case bytes([UInt8])
        case stream(ResponseStream)
    }

    public var status: Int
    public var headers: [(String, String)]
    public var body: Body

    public init(status: Int, headers: [(String, String)] = [], body: Body) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A JSON body (`Content-Type: application/json`).
    public static func json(_ status: Int, _ body: [UInt8]) -> HTTPResponse {
        HTTPResponse(status: status, headers: [("Content-Type", "application/json")], body: .bytes(body))
    }

    public static func json(_ status: Int, _ value: JSONValue) -> HTTPResponse {
        json(status, value.encoded())
    }

    /// The bytes of a `.bytes` body (tests).
    public var bytes: [UInt8] {
        if case let .bytes(bytes) = body { return bytes }
        var all: [UInt8] = []
        if case let .stream(stream) = body { while (try? stream.next(into: &all)) == true {} }
        return all
    }
}
