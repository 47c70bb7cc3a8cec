/// GET /metrics (scope admin): Prometheus text format.
struct MetricsResponder: Responder {
    let metrics: ServerMetrics
    func respond(to request: HTTPRequest, context: RequestContext) throws -> HTTPResponse {
        HTTPResponse(status: 200, headers: [("Content-Type", "text/plain; version=0.0.4")],
                     body: .bytes(Array(metrics.render().utf8)))
    }
}
