import LedgerCore

// ProvenLog-style direct ingest on the server's own chains (host_id = --host-id).
//   POST /v1/events  one event object  → 201 the stored record | 400 {"error":{code, field, message}}
//   POST /v1/batch   an array of events → 201 all stored | 207 some refused;
//                    body [{"index":i,"event":{record}} | {"index":i,"error":"message"}], one per input, in order;
//                    each event gets the limits of /v1/events (the array's own nesting level not counted)

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
        let events = try request.body.withUnsafeBytes { try Self.events(of: $0) }
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

    /// The events of a batch body (a JSON array of 1 … 1,000), each as its own bytes for the
    /// ingestor, which checks each as `POST /v1/events` checks its body. The array is one level
    /// of nesting more than an event may have, so it is parsed with one level more; an event
    /// nested deeper still is that event's refusal, not the batch's (`elementsOfTooDeepArray`).
    static func events(of bytes: UnsafeRawBufferPointer) throws -> [[UInt8]] {
        var tape = JSONTape()
        var parseError: JSONError?
        do { try tape.parse(bytes, limits: JSONLimits(maxDepth: JSONLimits.default.maxDepth + 1)) } catch {
            parseError = error
        }
        let elements: [Range<Int>]
        if let parseError {
            guard parseError.reason == .tooDeep, let split = elementsOfTooDeepArray(bytes) else {
                throw APIError(400, "MALFORMED_JSON", "the body is not I-JSON: \(parseError)")
            }
            elements = split
        } else {
            guard tape.root.kind == .array else {
                throw APIError(400, "VALIDATION_ERROR", "the body must be a JSON array of events")
            }
            elements = tape.elements(of: 0).map { index in
                let node = tape[index]
                let start = Int(node.start) - (node.kind == .string ? 1 : 0)
                let end = Int(node.end) + (node.kind == .string ? 1 : 0)
                return start..<end
            }
        }
        guard elements.count >= 1 else { throw APIError(400, "VALIDATION_ERROR", "the array is empty") }
        guard elements.count <= maxEventsPerRequest else {
            throw APIError(400, "VALIDATION_ERROR",
                           "Batch size exceeds limit of \(maxEventsPerRequest) events per request.")
        }
        return elements.map { Array(bytes[$0]) }
    }

    /// The byte ranges of the elements of a top-level JSON array that the parser gave up on
    /// because something in it nests too deep; nil unless the body is such an array and every
    /// element, parsed on its own with an event's limits, either is JSON or fails only for
    /// nesting too deep (as `POST /v1/events` would refuse that element: it stops reading there
    /// too). So a body that is not JSON is still refused whole. Iterative, with a stack of
    /// brackets as deep as the input: the parser's recursion cannot follow an arbitrary depth.
    static func elementsOfTooDeepArray(_ bytes: UnsafeRawBufferPointer) -> [Range<Int>]? {
        let count = bytes.count
        var i = 0
        func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D }
        func skipSpace() { while i < count, isSpace(bytes[i]) { i += 1 } }
        skipSpace()
        guard i < count, bytes[i] == UInt8(ascii: "[") else { return nil }
        i += 1
        skipSpace()
        var elements: [Range<Int>] = []
        if i < count, bytes[i] == UInt8(ascii: "]") {
            i += 1
        } else {
            var closers: [UInt8] = []  // the brackets still to close inside the current element, innermost last
            while true {
                skipSpace()
                let start = i
                scan: while i < count {
                    let byte = bytes[i]
                    switch byte {
                    case UInt8(ascii: "\""):
                        i += 1
                        while i < count, bytes[i] != UInt8(ascii: "\"") { i += bytes[i] == UInt8(ascii: "\\") ? 2 : 1 }
                        guard i < count else { return nil }
                        i += 1
                    case UInt8(ascii: "{"): closers.append(UInt8(ascii: "}")); i += 1
                    case UInt8(ascii: "["): closers.append(UInt8(ascii: "]")); i += 1
                    case UInt8(ascii: "}"), UInt8(ascii: "]"):
                        if closers.isEmpty { break scan }
                        guard closers.removeLast() == byte else { return nil }
                        i += 1
                    case UInt8(ascii: ","):
                        if closers.isEmpty { break scan }
                        i += 1
                    default: i += 1
                    }
                }
                var end = i
                while end > start, isSpace(bytes[end - 1]) { end -= 1 }
                guard i < count, end > start else { return nil }
                elements.append(start..<end)
                i += 1
                if bytes[i - 1] == UInt8(ascii: "]") { break }
                guard bytes[i - 1] == UInt8(ascii: ",") else { return nil }
            }
        }
        skipSpace()
        guard i == count else { return nil }
        var tape = JSONTape()
        for element in elements {
            do { try tape.parse(UnsafeRawBufferPointer(rebasing: bytes[element])) } catch {
                guard error.reason == .tooDeep else { return nil }
            }
        }
        return elements
    }
}
