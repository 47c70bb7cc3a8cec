import LedgerCore

// GET /v1/events, /v1/events/{id}, /v1/hosts, /v1/agents, /v1/stats (scope read:events).

enum QueryParsing {
    static let maxLabelFilters = 16

    /// Refuses a parameter the route does not take, or one given twice: a typo (`host=web-1`)
    /// must not silently widen a verification to every host.
    static func only(_ names: Set<String>, in request: HTTPRequest) throws {
        var seen = Set<String>()
        for (name, _) in request.query {
            guard names.contains(name) else {
                throw APIError.badRequest("unknown query parameter \(name)"
                                          + (names.isEmpty ? "; this route takes none"
                                                           : "; this route takes \(names.sorted().joined(separator: ", "))"),
                                          field: name)
            }
            guard seen.insert(name).inserted else {
                throw APIError.badRequest("query parameter \(name) is given more than once", field: name)
            }
        }
    }

    /// The filters shared by /v1/events and /v1/export.
    static func recordQuery(_ request: HTTPRequest, paged: Bool) throws -> RecordQuery {
        var query = RecordQuery()
        for (name, value) in request.query {
            switch name {
            case "host_id": query.hostID = value
            case "agent_id": query.agentID = value
            case "session_id": query.sessionID = value
            case "action_type": query.actionType = value
            case "action_status": query.actionStatus = value
            case "since", "until":
                guard let micros = RFC3339.microseconds(value) else {
                    throw APIError.badRequest("\(name) must be an RFC 3339 date-time, e.g. 2026-02-17T10:30:00Z",
                                              field: name)
                }
                if name == "since" { query.sinceMicros = micros } else { query.untilMicros = micros }
            case "limit" where paged:
                guard let limit = Int(value), limit >= 1, limit <= 1000 else {
                    throw APIError.badRequest("limit must be an integer from 1 to 1000", field: "limit")
                }
                query.limit = limit
            case "cursor" where paged:
                guard let position = Cursor.decode(value) else {
                    throw APIError.badRequest("cursor is not one this server issued", field: "cursor")
                }
                query.after = position
            default:
                if name.hasPrefix("label."), name.count > 6 {
                    // Labels are not indexed: each one is a JSON scan of every candidate row.
                    guard query.labels.count < maxLabelFilters else {
                        throw APIError.badRequest("at most \(maxLabelFilters) label.* filters per request", field: name)
                    }
                    query.labels.append((String(name.dropFirst(6)), value))
                } else {
                    throw APIError.badRequest("unknown query parameter \(name)", field: name)
                }
            }
        }
        return query
    }
}

/// Opaque page cursors: base64url of "p:<storage position>".
enum Cursor {
    static func encode(_ position: Int64) -> String { Secrets.base64url(Array("p:\(position)".utf8)) }

    static func decode(_ text: String) -> Int64? {
        guard let data = Base64URL.decode(text), let string = String(bytes: data, encoding: .utf8),
              string.hasPrefix("p:"), let value = Int64(string.dropFirst(2)), value >= 0 else { return nil }
        return value
    }
}

enum Base64URL {
    static func decode(_ text: String) -> [UInt8]? {
        var values: [UInt8] = []
        for byte in text.utf8 {
            switch byte {
            case 65...90: values.append(byte - 65)
            case 97...122: values.append(byte - 71)
            case 48...57: values.append(byte + 4)
            case UInt8(ascii: "-"): values.append(62)
            case UInt8(ascii: "_"): values.append(63)
            default: return nil
            }
        }
        guard values.count % 4 != 1 else { return nil }
        var out: [UInt8] = []
        var index = 0
        while index < values.count {
            let chunk = values[index..<min(index + 4, values.count)]
            var n: UInt32 = 0
            for (offset, value) in chunk.enumerated() { n |= UInt32(value) << UInt32(18 - 6 * offset) }
            out.append(UInt8(n >> 16 & 0xFF))
            if chunk.count > 2 { out.append(UInt8(n >> 8 & 0xFF)) }
            if chunk.count > 3 { out.append(UInt8(n & 0xFF)) }
            index += 4
        }
        return out
    }
}

struct ListEventsResponder: Responder {
    let store: Store
    func respond(to request: HTTPRequest, context: RequestContext) throws -> HTTPResponse {
        let query = try QueryParsing.recordQuery(request, paged: true)
        let page = try store.records(query)
        return .json(200, .object([
            ("events", .array(page.lines.map { .raw($0) })),
            ("next_cursor", page.next.map { .string(Cursor.encode($0)) } ?? .null),
        ]))
    }
}

struct GetEventResponder: Responder {
    let store: Store
    func respond(to request: HTTPRequest, context: RequestContext) throws -> HTTPResponse {
        try QueryParsing.only([], in: request)
        let id = context.parameters["id"] ?? ""
        guard let line = try store.record(id: id) else { throw APIError.notFound("no event with id \(id)") }
        return .json(200, line)
    }
}

func micros(_ value: Int64?) -> JSONValue { value.map { .string(RFC3339.utcMicroseconds($0)) } ?? .null }

struct HostsResponder: Responder {
    let store: Store
    func respond(to request: HTTPRequest, context: RequestContext) throws -> HTTPResponse {
        try QueryParsing.only([], in: request)
        let chains = try store.chains(hostID: nil, agentID: nil)
        let hosts = try store.hosts().map { host -> JSONValue in
            let own = chains.filter { $0.hostID == host.id }
            let broken = own.first { $0.status != "ok" }
            return .object([
                ("host_id", .string(host.id)), ("kind", .string(host.kind.rawValue)),
                ("status", .string(host.revoked ? "revoked" : "active")),
                ("records", .int(host.records)), ("host_seq", .uint(host.lastHostSeq)),
                ("chains", .int(Int64(own.count))), ("last_activity", micros(host.lastActivityMicros)),
                ("chain_status", .string(broken?.status ?? "ok")),
            ])
        }
        return .json(200, .object([("hosts", .array(hosts))]))
    }
}

struct AgentsResponder: Responder {
    let store: Store
    func respond(to request: HTTPRequest, context: RequestContext) throws -> HTTPResponse {
        try QueryParsing.only(["host_id", "agent_id"], in: request)
        let chains = try store.chains(hostID: request.argument("host_id"), agentID: request.argument("agent_id"))
        let agents = chains.map { chain -> JSONValue in
            .object([
                ("host_id", .string(chain.hostID)), ("agent_id", .string(chain.agentID)),
                ("records", .int(chain.records)), ("last_activity", micros(chain.lastActivityMicros)),
                ("chain_head", .object([("sequence", .uint(chain.head.sequence)),
                                        ("hash", .string(chain.head.hash.hex))])),
                ("chain_status", .string(chain.status)),
            ])
        }
        return .json(200, .object([("agents", .array(agents))]))
    }
}

struct StatsResponder: Responder {
    let store: Store
    func respond(to request: HTTPRequest, context: RequestContext) throws -> HTTPResponse {
        try QueryParsing.only([], in: request)
        let stats = try store.stats()
        return .json(200, .object([
            ("records", .int(stats.records)), ("hosts", .int(stats.hosts)), ("chains", .int(stats.chains)),
            ("batches", .int(stats.batches)), ("incidents", .int(stats.incidents)),
        ]))
    }
}
