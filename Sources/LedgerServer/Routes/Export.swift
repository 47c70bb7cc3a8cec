import LedgerCore
import LedgerPosix

/// GET /v1/export: the matching records as a FORMAT.md §4 export (NDJSON, one canonical
/// record per line), streamed page by page so memory stays bounded.
struct ExportResponder: Responder {
    let store: Store
    let log: Logger

    func respond(to request: HTTPRequest, context: RequestContext) throws -> HTTPResponse {
        var query = try QueryParsing.recordQuery(request, paged: false)
        query.limit = 1000
        // Taken before the 200 goes out, so that a database that is down is answered 503, not a
        // broken transfer.
        let scan = try store.recordScan()
        return HTTPResponse(status: 200, headers: [("Content-Type", "application/x-ndjson")],
                            body: .stream(ExportStream(scan: scan, query: query, log: log)))
    }
}

/// Owns the scan (on PostgreSQL a snapshot holding a pool connection) until libmicrohttpd frees
/// the response, whether the export completed or the client went away.
final class ExportStream: ResponseStream {
    let scan: RecordScan
    let log: Logger
    var query: RecordQuery
    var done = false

    init(scan: RecordScan, query: RecordQuery, log: Logger) {
        self.scan = scan
        self.query = query
        self.log = log
    }

    func next(into buffer: inout [UInt8]) throws -> Bool {
        guard !done else { return false }
        let page: RecordPage
        do {
            page = try scan.records(query)
        } catch {
            // The status line (200) is already sent: all that is left is to break the transfer.
            log.error("export aborted: a page read failed", ["after": query.after, "error": "\(error)"])
            throw error
        }
        for line in page.lines {
            buffer.append(contentsOf: line)
            buffer.append(0x0A)
        }
        if let next = page.next { query.after = next } else { done = true }
        return !page.lines.isEmpty || !done
    }
}
