import LedgerCore

// Queries. SQL text is assembled only from constant fragments chosen by which
// filters are present; every value is a bound parameter.

extension SQLiteStore {
    public func records(_ query: RecordQuery) throws -> RecordPage { try withReader { try $0.records(query) } }

    public func chains(hostID: String?, agentID: String?) throws -> [ChainSummary] {
        try withReader { try $0.chains(hostID: hostID, agentID: agentID) }
    }

    public func hosts() throws -> [HostEntry] { try withReader { try $0.hosts() } }

    public func incidents(hostID: String?, agentID: String?) throws -> [Incident] {
        try withReader { try $0.incidents(hostID: hostID, agentID: agentID) }
    }

    /// SQLite stores records in commit order (one writer), so paging by position from the pool
    /// misses nothing: an export needs no long read transaction, which would keep the WAL from
    /// being rewound for as long as a client takes to read it.
    public func recordScan() throws -> RecordScan { StoreRecordScan(store: self) }

    /// One read transaction on a reader connection: every read sees the same commit.
    public func snapshot() throws -> StoreSnapshot {
        let db = try readers.checkOut()
        do {
            try db.execute("BEGIN")
        } catch {
            readers.checkIn(db)
            throw error
        }
        return SQLiteSnapshot(db: db, pool: readers)
    }
}

/// Pages read one by one from the store (no common snapshot).
final class StoreRecordScan: RecordScan {
    let store: Store
    init(store: Store) { self.store = store }
    func records(_ query: RecordQuery) throws -> RecordPage { try store.records(query) }
}

final class SQLiteSnapshot: StoreSnapshot {
    private var db: SQLiteConnection?
    private let pool: ReaderPool

    init(db: SQLiteConnection, pool: ReaderPool) {
        self.db = db
        self.pool = pool
    }

    deinit { close() }

    private func connection() throws -> SQLiteConnection {
        guard let db else { throw StoreError.closed }
        return db
    }

    func records(_ query: RecordQuery) throws -> RecordPage { try connection().records(query) }
    func chains(hostID: String?, agentID: String?) throws -> [ChainSummary] {
        try connection().chains(hostID: hostID, agentID: agentID)
    }
    func hosts() throws -> [HostEntry] { try connection().hosts() }
    func incidents(hostID: String?, agentID: String?) throws -> [Incident] {
        try connection().incidents(hostID: hostID, agentID: agentID)
    }

    func close() {
        guard let db else { return }
        self.db = nil
        db.resetAll()
        // A connection left inside its read transaction would answer every later read from this
        // old snapshot: hand it back only once the transaction is over.
        if (try? db.execute("COMMIT")) != nil || (try? db.execute("ROLLBACK")) != nil {
            pool.checkIn(db)
        } else {
            pool.discard(db)
        }
    }
}

extension SQLiteConnection {
    func records(_ query: RecordQuery) throws -> RecordPage {
        var clauses = ["pos > ?1"]
        var binds: [(SQLiteStatement, Int32) -> Void] = [{ $0.bind($1, query.after) }]
        func add(_ clause: String, _ bind: @escaping (SQLiteStatement, Int32) -> Void) {
            binds.append(bind)
            clauses.append(clause.replacingOccurrences(of: "?#", with: "?\(binds.count)"))
        }
        if let v = query.hostID { add("host_id = ?#") { $0.bind($1, v) } }
        if let v = query.agentID { add("agent_id = ?#") { $0.bind($1, v) } }
        if let v = query.sessionID { add("session_id = ?#") { $0.bind($1, v) } }
        if let v = query.actionType { add("action_type = ?#") { $0.bind($1, v) } }
        if let v = query.actionStatus { add("action_status = ?#") { $0.bind($1, v) } }
        if let v = query.sinceMicros { add("ts >= ?#") { $0.bind($1, v) } }
        if let v = query.untilMicros { add("ts < ?#") { $0.bind($1, v) } }
        for (name, value) in query.labels {
            // Labels are not indexed: this narrows rows the other filters (or the scan) found.
            binds.append { $0.bind($1, name) }
            let nameIndex = binds.count
            binds.append { $0.bind($1, value) }
            clauses.append("EXISTS (SELECT 1 FROM json_each(CAST(body AS TEXT), '$.labels') "
                           + "WHERE key = ?\(nameIndex) AND value = ?\(binds.count))")
        }
        binds.append { $0.bind($1, Int64(query.limit + 1)) }
        let sql = "SELECT pos, body FROM records WHERE " + clauses.joined(separator: " AND ")
            + " ORDER BY pos LIMIT ?\(binds.count)"
        let stmt = try statement(sql)
        for (index, bind) in binds.enumerated() { bind(stmt, Int32(index + 1)) }
        var lines: [[UInt8]] = []
        var lastPos: Int64 = 0
        lines.reserveCapacity(min(query.limit, 1000))
        while try stmt.step() {
            if lines.count == query.limit { return RecordPage(lines: lines, next: lastPos) }
            lastPos = stmt.int(0)
            lines.append(stmt.bytes(1))
        }
        return RecordPage(lines: lines, next: nil)
    }
}

extension SQLiteStore {
    public func record(id: String) throws -> [UInt8]? {
        try withReader { db in
            let stmt = try db.statement("SELECT body FROM records WHERE id = ?1 ORDER BY pos LIMIT 1")
            stmt.bind(1, id)
            return try stmt.step() ? stmt.bytes(0) : nil
        }
    }
}

extension SQLiteConnection {
    func chains(hostID: String?, agentID: String?) throws -> [ChainSummary] {
        let stmt = try statement("""
            SELECT host_id, agent_id, sequence, hash, first_sequence, records, last_activity, status FROM chains
            WHERE (?1 IS NULL OR host_id = ?1) AND (?2 IS NULL OR agent_id = ?2) ORDER BY host_id, agent_id
            """)
        stmt.bind(1, hostID).bind(2, agentID)
        var result: [ChainSummary] = []
        while try stmt.step() {
            result.append(ChainSummary(
                hostID: stmt.string(0) ?? "", agentID: stmt.string(1) ?? "", records: stmt.int(5),
                firstSequence: UInt64(stmt.int(4)),
                head: ChainHead(sequence: UInt64(stmt.int(2)), hash: SHA256Digest(bytes: stmt.blob(3)) ?? .zero),
                lastActivityMicros: stmt.int(6), status: stmt.string(7) ?? "ok"))
        }
        return result
    }

    func hosts() throws -> [HostEntry] {
        let stmt = try statement("""
            SELECT host_id, kind, public_key, revoked, host_seq, records, last_activity, created_at
            FROM hosts ORDER BY host_id
            """)
        var result: [HostEntry] = []
        while try stmt.step() { result.append(SQLiteStore.hostEntry(stmt)) }
        return result
    }

    func incidents(hostID: String?, agentID: String?) throws -> [Incident] {
        let stmt = try statement("""
            SELECT id, kind, host_id, agent_id, batch_seq, detail, created_at FROM incidents
            WHERE (?1 IS NULL OR host_id = ?1) AND (?2 IS NULL OR agent_id = ?2 OR agent_id IS NULL)
            ORDER BY id
            """)
        stmt.bind(1, hostID).bind(2, agentID)
        var result: [Incident] = []
        while try stmt.step() {
            result.append(Incident(
                id: stmt.int(0), kind: IncidentKind(rawValue: stmt.string(1) ?? "") ?? .fork,
                hostID: stmt.string(2) ?? "", agentID: stmt.string(3),
                batchSeq: stmt.isNull(4) ? nil : UInt64(stmt.int(4)), detail: stmt.string(5) ?? "",
                createdAtMicros: stmt.int(6)))
        }
        return result
    }
}

extension SQLiteStore {
    /// On the control connections: relay batches authenticate with it.
    public func host(id: String) throws -> HostEntry? {
        try control.with { db in
            let stmt = try db.statement("""
                SELECT host_id, kind, public_key, revoked, host_seq, records, last_activity, created_at
                FROM hosts WHERE host_id = ?1
                """)
            stmt.bind(1, id)
            return try stmt.step() ? Self.hostEntry(stmt) : nil
        }
    }

    static func hostEntry(_ stmt: SQLiteStatement) -> HostEntry {
        HostEntry(id: stmt.string(0) ?? "", kind: HostEntry.Kind(rawValue: stmt.string(1) ?? "") ?? .relay,
                  publicKey: stmt.string(2), revoked: stmt.int(3) != 0, lastHostSeq: UInt64(stmt.int(4)),
                  records: stmt.int(5), lastActivityMicros: stmt.isNull(6) ? nil : stmt.int(6),
                  createdAtMicros: stmt.int(7))
    }

    public func stats() throws -> StoreStats {
        try withReader { db in
            let stmt = try db.statement("""
                SELECT (SELECT coalesce(sum(records), 0) FROM hosts), (SELECT count(*) FROM hosts),
                       (SELECT count(*) FROM chains), (SELECT count(*) FROM batches), (SELECT count(*) FROM incidents)
                """)
            _ = try stmt.step()
            return StoreStats(records: stmt.int(0), hosts: stmt.int(1), chains: stmt.int(2), batches: stmt.int(3),
                              incidents: stmt.int(4))
        }
    }
}
