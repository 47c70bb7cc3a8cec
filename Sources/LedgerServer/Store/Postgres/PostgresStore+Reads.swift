import LedgerCore

// Queries. SQL text is assembled only from constant fragments chosen by which filters
// are present (placeholders numbered as they are added); every value is a parameter.

extension PostgresStore {
    public func records(_ query: RecordQuery) throws -> RecordPage { try read { try $0.records(query) } }

    public func chains(hostID: String?, agentID: String?) throws -> [ChainSummary] {
        try read { try $0.chains(hostID: hostID, agentID: agentID) }
    }

    public func hosts() throws -> [HostEntry] { try read { try $0.hosts() } }

    public func incidents(hostID: String?, agentID: String?) throws -> [Incident] {
        try read { try $0.incidents(hostID: hostID, agentID: agentID) }
    }

    /// Positions are taken at insert, not at commit: with several connections writing, a lower
    /// position can commit after a higher one was read, and a reader paging `pos > after` on
    /// fresh snapshots would step over it for good. One snapshot for the whole export cannot.
    public func recordScan() throws -> RecordScan { try snapshot() }

    /// One REPEATABLE READ, READ ONLY transaction: every statement sees the same commits.
    public func snapshot() throws -> StoreSnapshot {
        var attempts = 2
        while true {
            attempts -= 1
            let db = try pool.checkOut()
            do {
                try db.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                return PostgresSnapshot(db: db, pool: pool)
            } catch let error as PostgresError where error.isUnavailable {
                // An idle connection may have died with a database restart: once more on a new one.
                pool.discard(db)
                if attempts > 0 { continue }
                throw StoreError.unavailable(error.description)
            } catch {
                if db.isHealthy { pool.checkIn(db) } else { pool.discard(db) }
                throw error
            }
        }
    }
}

final class PostgresSnapshot: StoreSnapshot {
    private var db: PostgresConnection?
    private let pool: PostgresPool

    init(db: PostgresConnection, pool: PostgresPool) {
        self.db = db
        self.pool = pool
    }

    deinit { close() }

    private func run<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        guard let db else { throw StoreError.closed }
        do {
            return try body(db)
        } catch let error as PostgresError where error.isUnavailable {
            throw StoreError.unavailable(error.description)
        }
    }

    func records(_ query: RecordQuery) throws -> RecordPage { try run { try $0.records(query) } }
    func chains(hostID: String?, agentID: String?) throws -> [ChainSummary] {
        try run { try $0.chains(hostID: hostID, agentID: agentID) }
    }
    func hosts() throws -> [HostEntry] { try run { try $0.hosts() } }
    func incidents(hostID: String?, agentID: String?) throws -> [Incident] {
        try run { try $0.incidents(hostID: hostID, agentID: agentID) }
    }

    func close() {
        guard let db else { return }
        self.db = nil
        // A failed statement leaves the transaction aborted: ROLLBACK ends it either way.
        if (try? db.execute("ROLLBACK")) != nil, db.isHealthy { pool.checkIn(db) } else { pool.discard(db) }
    }
}

extension PostgresConnection {
    func records(_ query: RecordQuery) throws -> RecordPage {
        var parameters = PostgresParameters { $0.add(query.after) }
        var clauses = ["pos > $1"]
        func add(_ column: String, _ value: String?) {
            guard let value else { return }
            parameters.add(value)
            clauses.append("\(column) = $\(parameters.values.count)")
        }
        /// `column = (SELECT key FROM table WHERE name = value)`.
        func add(key column: String, from table: String, name: String, _ value: String?) {
            guard let value else { return }
            parameters.add(value)
            clauses.append("\(column) = (SELECT key FROM \(table) WHERE \(name) = $\(parameters.values.count))")
        }
        func add(_ comparison: String, _ value: Int64?) {
            guard let value else { return }
            parameters.add(value)
            clauses.append("\(comparison) $\(parameters.values.count)")
        }
        // Records carry integer keys (PostgresSchema version 2); an unknown name matches nothing.
        add(key: "host_key", from: "hosts", name: "host_id", query.hostID)
        add(key: "agent_key", from: "agents", name: "agent_id", query.agentID)
        add("session_id", query.sessionID)
        add("action_type", query.actionType)
        add("action_status", query.actionStatus)
        add("ts >=", query.sinceMicros)
        add("ts <", query.untilMicros)
        for (name, value) in query.labels {
            // Labels are not indexed: this narrows rows the other filters (or the scan) found.
            parameters.add(name)
            parameters.add(value)
            let count = parameters.values.count
            // PostgreSQL's JSON functions refuse the escape \u0000 anywhere in the text (jsonb at
            // input, json when it decodes strings), so one record holding it in any field failed
            // every search that reached it. It is spelled \ufffd for the search: in a canonical line
            // every backslash starts an escape and no raw control character occurs, so escaped
            // backslashes are parked on U+0001 first and a `\\u0000` (backslash, "u0000") is left alone.
            // A label whose value holds U+0000 is searched as if it held U+FFFD.
            clauses.append("(replace(replace(replace(convert_from(body, 'UTF8'), '\\\\', chr(1)), '\\u0000', "
                           + "'\\ufffd'), chr(1), '\\\\')::json -> 'labels' ->> $\(count - 1)::text) = $\(count)")
        }
        parameters.add(Int64(query.limit + 1))
        let sql = "SELECT pos, body FROM records WHERE " + clauses.joined(separator: " AND ")
            + " ORDER BY pos LIMIT $\(parameters.values.count)"
        let result = try self.query(sql, parameters)
        var lines: [[UInt8]] = []
        lines.reserveCapacity(min(result.rows, query.limit))
        for row in 0..<min(result.rows, query.limit) { lines.append(result.bytes(row, 1)) }
        let more = result.rows > query.limit
        return RecordPage(lines: lines, next: more ? result.int(query.limit - 1, 0) : nil)
    }

    func chains(hostID: String?, agentID: String?) throws -> [ChainSummary] {
        let result = try query("""
            SELECT host_id, agent_id, sequence, hash, first_sequence, records, last_activity, status FROM chains
            WHERE ($1::text IS NULL OR host_id = $1) AND ($2::text IS NULL OR agent_id = $2)
            ORDER BY host_id, agent_id
            """, PostgresParameters { $0.add(hostID); $0.add(agentID) })
        return (0..<result.rows).map { row in
            ChainSummary(
                hostID: result.string(row, 0) ?? "", agentID: result.string(row, 1) ?? "",
                records: result.int(row, 5), firstSequence: UInt64(result.int(row, 4)),
                head: ChainHead(sequence: UInt64(result.int(row, 2)), hash: result.digest(row, 3) ?? .zero),
                lastActivityMicros: result.int(row, 6), status: result.string(row, 7) ?? "ok")
        }
    }

    func hosts() throws -> [HostEntry] {
        let result = try query("""
            SELECT host_id, kind, public_key, revoked, host_seq, records, last_activity, created_at
            FROM hosts ORDER BY host_id
            """)
        return (0..<result.rows).map { PostgresStore.hostEntry(result, $0) }
    }

    func incidents(hostID: String?, agentID: String?) throws -> [Incident] {
        let result = try query("""
            SELECT id, kind, host_id, agent_id, batch_seq, detail, created_at FROM incidents
            WHERE ($1::text IS NULL OR host_id = $1) AND ($2::text IS NULL OR agent_id = $2 OR agent_id IS NULL)
            ORDER BY id
            """, PostgresParameters { $0.add(hostID); $0.add(agentID) })
        return (0..<result.rows).map { row in
            Incident(id: result.int(row, 0), kind: IncidentKind(rawValue: result.string(row, 1) ?? "") ?? .fork,
                     hostID: result.string(row, 2) ?? "", agentID: result.string(row, 3),
                     batchSeq: result.optionalInt(row, 4).map { UInt64($0) }, detail: result.string(row, 5) ?? "",
                     createdAtMicros: result.int(row, 6))
        }
    }
}

extension PostgresStore {
    public func record(id: String) throws -> [UInt8]? {
        try read { db in
            guard let uuid = PostgresUUID.binary(id) else { return nil }
            let result = try db.query("SELECT body FROM records WHERE id = $1 ORDER BY pos LIMIT 1",
                                      PostgresParameters { $0.add(uuid: uuid) })
            return result.rows == 1 ? result.bytes(0, 0) : nil
        }
    }

    /// On the control connections: relay batches authenticate with it.
    public func host(id: String) throws -> HostEntry? {
        try control.with { db in
            let result = try db.query("""
                SELECT host_id, kind, public_key, revoked, host_seq, records, last_activity, created_at
                FROM hosts WHERE host_id = $1
                """, PostgresParameters { $0.add(id) })
            return result.rows == 1 ? Self.hostEntry(result, 0) : nil
        }
    }

    static func hostEntry(_ result: PostgresResult, _ row: Int) -> HostEntry {
        HostEntry(id: result.string(row, 0) ?? "", kind: HostEntry.Kind(rawValue: result.string(row, 1) ?? "") ?? .relay,
                  publicKey: result.string(row, 2), revoked: result.int(row, 3) != 0,
                  lastHostSeq: UInt64(result.int(row, 4)), records: result.int(row, 5),
                  lastActivityMicros: result.optionalInt(row, 6), createdAtMicros: result.int(row, 7))
    }

    public func stats() throws -> StoreStats {
        try read { db in
            let result = try db.query("""
                SELECT (SELECT coalesce(sum(records), 0) FROM hosts)::int8, (SELECT count(*) FROM hosts),
                       (SELECT count(*) FROM chains), (SELECT count(*) FROM batches), (SELECT count(*) FROM incidents)
                """)
            return StoreStats(records: result.int(0, 0), hosts: result.int(0, 1), chains: result.int(0, 2),
                              batches: result.int(0, 3), incidents: result.int(0, 4))
        }
    }
}
