/// GET /healthz, open, for load balancers: the server answers HTTP and its store answers a
/// `SELECT 1` on the connections kept for authentication (503 while PostgreSQL is unreachable).
/// It reads no table, so it costs the same on any database and is not queued behind heavy reads.
struct HealthResponder: Responder {
    let store: Store
    func respond(to request: HTTPRequest, context: RequestContext) throws -> HTTPResponse {
        try store.ping()
        return .json(200, .object([("status", .string("ok"))]))
    }
}
