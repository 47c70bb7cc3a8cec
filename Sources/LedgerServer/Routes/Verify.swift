import LedgerCore

/// GET /v1/verify?host_id=&agent_id= : re-reads the stored records (storage order is chain order)
/// through the export verifier, checks that nothing is missing against the chain heads and host
/// positions the store recorded at ingest, and lists the incidents recorded for them.
struct VerifyResponder: Responder {
    let store: Store

    func respond(to request: HTTPRequest, context: RequestContext) throws -> HTTPResponse {
        try QueryParsing.only(["host_id", "agent_id"], in: request)
        let hostID = request.argument("host_id")
        let agentID = request.argument("agent_id")
        // Records, heads and positions must come from one committed state: read separately, a
        // batch committing in between would look like a missing record or a wrong head.
        let snapshot = try store.snapshot()
        defer { snapshot.close() }
        let incidents = try snapshot.incidents(hostID: hostID, agentID: agentID)
        // A host's position covers its whole stream; one agent's records are only part of it.
        let hosts = agentID != nil ? [] : try snapshot.hosts().filter { hostID == nil || $0.id == hostID }
        let chains = try snapshot.chains(hostID: hostID, agentID: agentID)
        // "Valid, 0 events verified" for a host or agent the server never heard of (a typo, an
        // empty value) would read as a clean bill of health for something that was not checked.
        if let hostID, try snapshot.hosts().contains(where: { $0.id == hostID }) == false {
            throw APIError(404, "NOT_FOUND", "no host \(hostID) is known to this server", [("field", .string("host_id"))])
        }
        if let agentID, chains.isEmpty {
            throw APIError(404, "NOT_FOUND", "no chain of agent \(agentID)" + (hostID.map { " on host \($0)" } ?? "")
                           + " is stored", [("field", .string("agent_id"))])
        }
        let completeness = StoredCompleteness(hosts: hosts, chains: chains, incidents: incidents)
        var query = RecordQuery()
        query.hostID = hostID
        query.agentID = agentID
        query.limit = 1000
        let verifier = ExportVerifier()
        verifier.onRecord = { completeness.record($0) }
        pages: while true {
            let page = try snapshot.records(query)
            for line in page.lines {
                guard verifier.consume(line: line), completeness.failure == nil else { break pages }
            }
            guard let next = page.next else { break }
            query.after = next
        }
        let report = verifier.finish()
        let failure = report.failure.map(StoredCompleteness.Failure.init) ?? completeness.finish()
        var members: [(String, JSONValue)] = [
            ("valid", .bool(failure == nil)), ("events_verified", .int(Int64(report.records))),
            ("chains", .int(Int64(report.chains))),
        ]
        if let failure {
            members.append(("first_failure", .object([
                ("reason", .string(failure.reason)), ("host_id", .optional(failure.hostID)),
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

/// Whether the stored records are all the records the store accepted. The export verifier sees
/// only what is there: a record deleted from the tail of a chain (or of a host's stream) leaves
/// the rest perfectly linked. The `chains` and `hosts` rows, written in the same transaction as
/// the records, say where each chain and each host's stream ended and how many records they hold.
final class StoredCompleteness {
    struct Failure: Equatable {
        var reason: String
        var hostID: String?
        var agentID: String?
        var sequence: UInt64?
        var id: String?
        var message: String

        init(reason: String, hostID: String?, agentID: String?, sequence: UInt64?, id: String?, message: String) {
            self.reason = reason
            self.hostID = hostID
            self.agentID = agentID
            self.sequence = sequence
            self.id = id
            self.message = message
        }

        init(_ failure: VerificationFailure) {
            self.init(reason: failure.reason.rawValue, hostID: failure.hostID, agentID: failure.agentID,
                      sequence: failure.sequence, id: failure.id, message: failure.message)
        }
    }

    private struct ChainKey: Hashable {
        var hostID: ExactString
        var agentID: ExactString
    }

    private struct Seen {
        var records: Int64
        var first: UInt64
        var head: ChainHead
    }

    private struct HostPosition: Hashable {
        var hostID: ExactString
        var hostSeq: UInt64
    }

    private let hostRows: [ExactString: HostEntry]
    private let chainRows: [ChainSummary]
    /// Where a recorded host_gap ends: the batch after the lost records starts there.
    private let recordedGaps: Set<HostPosition>
    private var chains: [ChainKey: Seen] = [:]
    private var hosts: [ExactString: (records: Int64, last: UInt64)] = [:]
    private(set) var failure: Failure?

    /// `hosts`: the hosts whose whole stream is being read (none for an agent filter).
    init(hosts: [HostEntry], chains: [ChainSummary], incidents: [Incident]) {
        hostRows = Dictionary(hosts.map { (ExactString($0.id), $0) }, uniquingKeysWith: { first, _ in first })
        chainRows = chains
        recordedGaps = Set(incidents.compactMap { incident in
            guard incident.kind == .hostGap, let start = incident.batchSeq else { return nil }
            return HostPosition(hostID: ExactString(incident.hostID), hostSeq: start)
        })
    }

    func record(_ record: StoredRecord) {
        guard failure == nil else { return }
        let key = ChainKey(hostID: ExactString(record.hostID), agentID: ExactString(record.agentID))
        let head = ChainHead(sequence: record.sequence, hash: record.hash)
        if var seen = chains[key] {
            seen.records += 1
            seen.head = head
            chains[key] = seen
        } else {
            chains[key] = Seen(records: 1, first: record.sequence, head: head)
        }
        let host = ExactString(record.hostID)
        guard hostRows[host] != nil else { return }
        let last = hosts[host]?.last ?? 0
        if record.hostSeq != last + 1, !recordedGaps.contains(HostPosition(hostID: host, hostSeq: record.hostSeq)) {
            failure = Failure(
                reason: "missing_records", hostID: record.hostID, agentID: record.agentID, sequence: record.sequence,
                id: record.id, message: "host_seq \(last + 1)…\(record.hostSeq - 1) of host \(record.hostID) are not "
                    + "stored and no host_gap incident records their loss: records were deleted from the store")
            return
        }
        hosts[host] = ((hosts[host]?.records ?? 0) + 1, record.hostSeq)
    }

    /// The first disagreement between the records read and the heads and positions stored.
    func finish() -> Failure? {
        if let failure { return failure }
        var unseen = chains
        for row in chainRows {
            let key = ChainKey(hostID: ExactString(row.hostID), agentID: ExactString(row.agentID))
            let seen = unseen.removeValue(forKey: key)
            if let problem = Self.compare(row, seen) { return problem }
        }
        if let (key, seen) = unseen.min(by: { ($0.key.hostID, $0.key.agentID) < ($1.key.hostID, $1.key.agentID) }) {
            return Failure(reason: "head_mismatch", hostID: key.hostID.string, agentID: key.agentID.string,
                           sequence: seen.head.sequence, id: nil,
                           message: "records of chain \(key.hostID.string)/\(key.agentID.string) are stored but the "
                               + "store has no head for that chain")
        }
        for (host, row) in hostRows.sorted(by: { $0.key < $1.key }) {
            let seen = hosts[host] ?? (0, 0)
            if seen.last < row.lastHostSeq {
                return Failure(reason: "missing_records", hostID: row.id, agentID: nil, sequence: nil, id: nil,
                               message: "host_seq \(seen.last + 1)…\(row.lastHostSeq) of host \(row.id) are not "
                                   + "stored: its stream was accepted up to host_seq \(row.lastHostSeq)")
            }
            if seen.last > row.lastHostSeq || seen.records != row.records {
                return Failure(reason: "head_mismatch", hostID: row.id, agentID: nil, sequence: nil, id: nil,
                               message: "host \(row.id): \(seen.records) record(s) up to host_seq \(seen.last) are "
                                   + "stored, its position says \(row.records) up to host_seq \(row.lastHostSeq)")
            }
        }
        return nil
    }

    private static func compare(_ row: ChainSummary, _ seen: Seen?) -> Failure? {
        let chain = "\(row.hostID)/\(row.agentID)"
        func failure(_ reason: String, _ sequence: UInt64?, _ message: String) -> Failure {
            Failure(reason: reason, hostID: row.hostID, agentID: row.agentID, sequence: sequence, id: nil,
                    message: message)
        }
        guard let seen else {
            guard row.records > 0 else { return nil }
            return failure("missing_records", row.head.sequence,
                           "chain \(chain) has its head at sequence \(row.head.sequence) but none of its records is stored")
        }
        if seen.head.sequence < row.head.sequence {
            return failure("missing_records", seen.head.sequence + 1,
                           "chain \(chain): sequence \(seen.head.sequence + 1)…\(row.head.sequence) not stored; "
                               + "the last stored record is sequence \(seen.head.sequence), the head \(row.head.sequence)")
        }
        if seen.head != row.head {
            return failure("head_mismatch", seen.head.sequence,
                           "chain \(chain): the last stored record is sequence \(seen.head.sequence) with hash "
                               + "\(seen.head.hash.hex); the head is sequence \(row.head.sequence) with hash \(row.head.hash.hex)")
        }
        if row.firstSequence != 0, seen.first > row.firstSequence {
            return failure("missing_records", row.firstSequence,
                           "chain \(chain): sequence \(row.firstSequence)…\(seen.first - 1) not stored; the chain "
                               + "was accepted from sequence \(row.firstSequence)")
        }
        if seen.records != row.records {
            return failure(seen.records < row.records ? "missing_records" : "head_mismatch", nil,
                           "chain \(chain): \(seen.records) record(s) stored, \(row.records) accepted")
        }
        return nil
    }
}

func incidentJSON(_ incident: Incident) -> JSONValue {
    .object([
        ("id", .int(incident.id)), ("kind", .string(incident.kind.rawValue)), ("host_id", .string(incident.hostID)),
        ("agent_id", .optional(incident.agentID)), ("batch_seq", incident.batchSeq.map { .uint($0) } ?? .null),
        ("detail", .string(incident.detail)), ("created_at", micros(incident.createdAtMicros)),
    ])
}
