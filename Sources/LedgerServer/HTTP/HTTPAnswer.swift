/// What a responder answers: a response at once, or work that waits for another request to
/// arrive (a relay batch for its predecessor, HostOrderGate). In libmicrohttpd's pool mode a
/// thread serves many connections, and the one that would bring the awaited request may be
/// among them, so `.later` work never runs on a pool thread: HTTPServer suspends the connection
/// and runs it on a thread of its own (HTTPServer+Later.swift).
public enum HTTPAnswer {
    case now(HTTPResponse)
    case later(@Sendable () throws -> HTTPResponse)

    /// The response, computed on the calling thread (in-process callers, thread-per-connection).
    public func waited() throws -> HTTPResponse {
        switch self {
        case let .now(response): response
        case let .later(work): try work()
        }
    }
}
