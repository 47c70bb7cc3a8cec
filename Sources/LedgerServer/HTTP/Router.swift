import Foundation
import LedgerCore
import LedgerPosix

/// Handles requests of one route. Implementations are thread-safe: the HTTP pool calls them concurrently.
public protocol Responder: Sendable {
    func respond(to request: HTTPRequest, context: RequestContext) throws -> HTTPResponse
    /// `.later` when answering means waiting for another request (see HTTPAnswer); by default
    /// `.now(respond(…))`.
    func answer(to request: HTTPRequest, context: RequestContext) throws -> HTTPAnswer
}

extension Responder {
    public func answer(to request: HTTPRequest, context: RequestContext) throws -> HTTPAnswer {
        .now(try respond(to: request, context: context))
    }
}

/// What the router learned before calling a responder.
public struct RequestContext: Sendable {
    /// The authenticated key (a synthetic admin key under --no-auth); nil on open routes.
    public var key: APIKeyEntry?
    /// `{name}` segments of the route pattern.
    public var parameters: [String: String] = [:]
    public var receivedAtMicros: Int64
}

/// Who may call a route.
public enum Access: Sendable {
    /// No credentials (GET /healthz).
    case open
    /// An API key with this scope.
    case scope(Scope)
    /// Authenticated by the route itself (relay signatures, enrollment tokens).
    case routeAuthenticated
}

/// Matches method and path, authenticates, calls the responder and turns every error into a JSON answer.
public final class Router: @unchecked Sendable {
    struct Route {
        var method: String
        var segments: [Substring]
        var access: Access
        var name: String
        var responder: Responder
    }

    private var routes: [Route] = []
    let store: Store
    let noAuth: Bool
    let metrics: ServerMetrics
    let log: Logger

    init(store: Store, noAuth: Bool, metrics: ServerMetrics, log: Logger) {
        self.store = store
        self.noAuth = noAuth
        self.metrics = metrics
        self.log = log
    }

    /// Adds a route; `pattern` segments like `{id}` match one path segment.
    public func add(_ method: String, _ pattern: String, _ access: Access, _ responder: Responder) {
        routes.append(Route(method: method, segments: pattern.split(separator: "/"), access: access,
                            name: "\(method) \(pattern)", responder: responder))
    }

    /// The response, computed on the calling thread (in-process use and tests).
    public func handle(_ request: HTTPRequest) -> HTTPResponse {
        (try? route(request).waited()) ?? Self.internalError
    }

    /// The answer for HTTPServer. Work answered `.later` keeps the error mapping and the metrics
    /// of the route, taken when it ends (its latency includes the wait).
    public func route(_ request: HTTPRequest) -> HTTPAnswer {
        let started = DispatchTime.now().uptimeNanoseconds
        var routeName = "unmatched"
        let answer: HTTPAnswer
        do {
            let (route, parameters) = try match(request)
            routeName = route.name
            var context = RequestContext(key: nil, parameters: parameters, receivedAtMicros: nowMicros())
            if case let .scope(scope) = route.access { context.key = try authenticate(request, scope) }
            answer = try route.responder.answer(to: request, context: context)
        } catch {
            return .now(finish(response(for: error, routeName), routeName, started))
        }
        switch answer {
        case let .now(response):
            return .now(finish(response, routeName, started))
        case let .later(work):
            return .later { [self, routeName] in
                let response: HTTPResponse
                do { response = try work() } catch { response = self.response(for: error, routeName) }
                return self.finish(response, routeName, started)
            }
        }
    }

    /// A request the HTTP layer refused before any route ran (413: a Content-Length over
    /// --max-body, or a chunked body that grew past it): counted under the route it was for and
    /// logged, like the refusals routes make.
    func refusedBeforeRoute(_ request: HTTPRequest, status: Int) {
        let routeName = (try? match(request))?.0.name ?? "unmatched"
        metrics.request(route: routeName, status: status, seconds: 0)
        var host = "-", batchSeq = "-"
        if request.path == "/v1/relay/batches" {
            metrics.batch("refused_\(status)", records: 0)
            host = request.header(RelayBatch.hostHeader) ?? "-"
            batchSeq = request.header(RelayBatch.batchSeqHeader) ?? "-"
        }
        log.warn("request refused before its route", ["route": routeName, "host": host, "batch_seq": batchSeq,
                                                      "status": status, "code": APIError.payloadTooLarge.code,
                                                      "content_length": request.header("content-length") ?? "-"])
    }

    private func finish(_ response: HTTPResponse, _ routeName: String, _ started: UInt64) -> HTTPResponse {
        metrics.request(route: routeName, status: response.status,
                        seconds: Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9)
        return response
    }

    private func response(for error: Error, _ routeName: String) -> HTTPResponse {
        switch error {
        case let error as HTTPResponseError: return error.response
        case let error as RecordError: return RecordErrorAnswer(error).response
        default:
            log.error("unhandled error", ["route": routeName, "error": "\(error)"])
            return Self.internalError
        }
    }

    static var internalError: HTTPResponse { APIError(500, "INTERNAL", "internal error; see the server log").response }

    private func match(_ request: HTTPRequest) throws -> (Route, [String: String]) {
        let path = request.path.split(separator: "/")
        var pathMatched = false
        for route in routes where route.segments.count == path.count {
            var parameters: [String: String] = [:]
            var matches = true
            for (pattern, segment) in zip(route.segments, path) {
                if pattern.first == "{" {
                    parameters[String(pattern.dropFirst().dropLast())] = String(segment)
                } else if pattern != segment {
                    matches = false
                    break
                }
            }
            guard matches else { continue }
            pathMatched = true
            if route.method == request.method || (route.method == "GET" && request.method == "HEAD") {
                return (route, parameters)
            }
        }
        throw pathMatched ? APIError.methodNotAllowed : APIError.notFound("no route for \(request.path)")
    }

    /// Looks the key up on every request (an indexed query): a revoked key fails at once.
    private func authenticate(_ request: HTTPRequest, _ scope: Scope) throws -> APIKeyEntry {
        if noAuth {
            return APIKeyEntry(id: "no-auth", name: "anonymous", scopes: [.admin], createdAtMicros: 0)
        }
        var secret = request.header("x-api-key")
        if secret == nil, let authorization = request.header("authorization") {
            let parts = authorization.split(separator: " ", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == "bearer" {
                secret = parts[1].trimmingCharacters(in: .whitespaces)
            }
        }
        guard let secret, !secret.isEmpty, let key = try store.apiKey(hash: Secrets.hash(secret)) else {
            throw APIError.unauthorized
        }
        guard key.allows(scope) else { throw APIError.forbidden(scope) }
        return key
    }
}

/// A refused event as an HTTP answer: 400 (413 for `TOO_LARGE`) with the field-level error.
struct RecordErrorAnswer: HTTPResponseError {
    let error: RecordError
    init(_ error: RecordError) { self.error = error }
    var status: Int { error.code == .tooLarge ? 413 : 400 }
    var code: String { error.code.rawValue }
    var message: String { error.message }
    var extra: [(String, JSONValue)] { error.field.map { [("field", .string($0))] } ?? [] }
}
