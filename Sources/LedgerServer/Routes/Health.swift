/// GET /healthz: open, no store access beyond a trivial read, for load balancers.
struct HealthResponder: Responder {
    let store: Store
    func respond(to request: HTTPRequest, context: RequestContext) throws -> HTTPResponse {
        _ = try store.stats()
        return .json(200, .object([("status", .string("ok"))]))
    }
}
