import LedgerCore

/// GET /v1/export: the matching records as a FORMAT.md §4 export (NDJSON, one canonical
/// record per line), streamed page by page so memory stays bounded.
struct ExportResponder: Responder {
    let store: Store

    func respond(to request: HTTPRequest, context: RequestContext) throws -> HTTPResponse {
        var query = try QueryParsing.recordQuery(request, paged: false)
        query.limit = 1000
        return HTTPResponse(status: 200, headers: [("Content-Type", "application/x-ndjson")],
                            body: .stream(ExportStream(store: store, query: query)))
    }
}

final class ExportStream: ResponseStream {
    let store: Store
    var query: RecordQuery
    var done = false

    init(store: Store, query: RecordQuery) {
        self.store = store
        self.query = query
    }

    func next(into buffer: inout [UInt8]) -> Bool {
        guard !done, let page = try? store.records(query) else { return false }
        for line in page.lines {
            buffer.append(contentsOf: line)
            buffer.append(0x0A)
        }
        if let next = page.next { query.after = next } else { done = true }
        return !page.lines.isEmpty || !done
    }
}
