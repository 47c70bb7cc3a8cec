import LedgerCore

/// GET /v1/verify?host_id=&agent_id= : re-reads the stored records (storage order is chain order)
/// through the export verifier and lists the incidents recorded for them.
struct VerifyResponder: Responder {
    let store: Store

    func respond(to request: HTTPRequest, context: RequestContext) throws -> HTTPResponse {
        var query = RecordQuery()
        query.hostID = request.argument("host_id")
        query.agentID = request.argument("agent_id")
        query.limit = 1000
        let verifier = ExportVerifier()
        while true {
            let page = try store.records(query)
            for line in page.lines where !verifier.consume(line: line) { break }
            guard verifier.failure == nil, let next = page.next else { break }
            query.after = next
        }
        let report = verifier.finish()
        let incidents = try store.incidents(hostID: query.hostID, agentID: query.agentID)
        var members: [(String, JSONValue)] = [
            ("valid", .bool(report.isValid)), ("events_verified", .int(Int64(report.records))),
            ("chains", .int(Int64(report.chains))),
        ]
        if let failure = report.failure {
            members.append(("first_failure", .object([
                ("reason", .string(failure.reason.rawValue)), ("host_id", .optional(failure.hostID)),
                ("agent_id", .optional(failure.agentID)), ("sequence", failure.sequence.map { .uint($0) } ?? .null),
                ("id", .optional(failure.id)), ("message", .string(failure.message)),
            ])))
        }
        members.append(("partial_chains", .array(report.partialChains.map {
            .object([("host_id", .string($0.hostID)), ("agent_id", .string($0.agentID)),
                     ("first_sequence", .uint($0.firstSequence)), ("anchor", .string($0.anchor.hex))])
        })))
        members.append(("incidents", .array(incidents.map(incidentJSON))))
        return .json(200, .object(members))
    }
}

func incidentJSON(_ incident: Incident) -> JSONValue {
    .object([
        ("id", .int(incident.id)), ("kind", .string(incident.kind.rawValue)), ("host_id", .string(incident.hostID)),
        ("agent_id", .optional(incident.agentID)), ("batch_seq", incident.batchSeq.map { .uint($0) } ?? .null),
        ("detail", .string(incident.detail)), ("created_at", micros(incident.createdAtMicros)),
    ])
}
