import LedgerCore

// ProvenLog-style direct ingest on the server's own chains (host_id = --host-id).
//   POST /v1/events  one event object  → 201 the stored record | 400 {"error":{code, field, message}}
//   POST /v1/batch   an array of events → 201 all stored | 207 some refused;
//                    body [{"index":i,"event":{record}} | {"index":i,"error":"message"}], one per input, in order

/// The most events one direct-ingest request may carry.
let maxEventsPerRequest = 1000

struct DirectEventResponder: Responder {
    let ingestor: DirectIngestor
    let metrics: ServerMetrics

    func respond(to request: HTTPRequest, context: RequestContext) throws -> HTTPResponse {
        let results = try ingestor.ingest([request.body], origin: .http(keyID: context.key?.id ?? "no-auth"),
                                          receivedAtMicros: context.receivedAtMicros)
        switch results[0] {
        case let .stored(line, _):
            metrics.directRecords(1)
            return .json(201, line)
        case let .refused(error):
            throw RecordErrorAnswer(error)
        }
    }
}

struct DirectBatchResponder: Responder {
    let ingestor: DirectIngestor
    let metrics: ServerMetrics

    func respond(to request: HTTPRequest, context: RequestContext) throws -> HTTPResponse {
        var tape = JSONTape()
        let events: [[UInt8]] = try request.body.withUnsafeBytes { bytes in
            do { try tape.parse(bytes) } catch {
                throw APIError(400, "MALFORMED_JSON", "the body is not I-JSON: \(error)")
            }
            guard tape.root.kind == .array else {
                throw APIError(400, "VALIDATION_ERROR", "the body must be a JSON array of events")
            }
            guard tape.root.count >= 1 else { throw APIError(400, "VALIDATION_ERROR", "the array is empty") }
            guard tape.root.count <= maxEventsPerRequest else {
                throw APIError(400, "VALIDATION_ERROR",
                               "Batch size exceeds limit of \(maxEventsPerRequest) events per request.")
            }
            return tape.elements(of: 0).map { index in
                let node = tape[index]
                let start = Int(node.start) - (node.kind == .string ? 1 : 0)
                let end = Int(node.end) + (node.kind == .string ? 1 : 0)
                return Array(bytes[start..<end])
            }
        }
        let results = try ingestor.ingest(events, origin: .http(keyID: context.key?.id ?? "no-auth"),
                                          receivedAtMicros: context.receivedAtMicros)
        var failed = false
        var stored = 0
        let items: [JSONValue] = results.enumerated().map { index, result in
            switch result {
            case let .stored(line, _):
                stored += 1
                return .object([("index", .int(Int64(index))), ("event", .raw(line))])
            case let .refused(error):
                failed = true
                return .object([("index", .int(Int64(index))), ("error", .string(error.message))]
                               + (error.field.map { [("field", .string($0))] } ?? []))
            }
        }
        metrics.directRecords(stored)
        return .json(failed ? 207 : 201, .array(items))
    }
}
