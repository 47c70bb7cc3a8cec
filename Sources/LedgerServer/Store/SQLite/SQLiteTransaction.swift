import LedgerCore

/// StoreTransaction on the writer connection, inside the writer's open transaction.
struct SQLiteTransaction: StoreTransaction {
    let db: SQLiteConnection

    func hostState(hostID: String) throws -> HostState? {
        let stmt = try db.statement("SELECT kind, host_seq, revoked, public_key FROM hosts WHERE host_id = ?1")
        stmt.bind(1, hostID)
        guard try stmt.step() else { return nil }
        guard let kind = stmt.string(0).flatMap(HostEntry.Kind.init(rawValue:)) else {
            throw StoreError.corrupt("host \(hostID) has an unknown kind")
        }
        return HostState(kind: kind, lastHostSeq: UInt64(stmt.int(1)), revoked: stmt.int(2) != 0,
                         publicKey: stmt.string(3))
    }

    func storedHash(hostID: String, hostSeq: UInt64) throws -> SHA256Digest? {
        let stmt = try db.statement("SELECT hash FROM records WHERE host_id = ?1 AND host_seq = ?2")
        stmt.bind(1, hostID).bind(2, Int64(hostSeq))
        guard try stmt.step() else { return nil }
        return SHA256Digest(bytes: stmt.blob(0))
    }

    func chainHead(hostID: String, agentID: String) throws -> ChainHead? {
        let stmt = try db.statement("SELECT sequence, hash FROM chains WHERE host_id = ?1 AND agent_id = ?2")
        stmt.bind(1, hostID).bind(2, agentID)
        guard try stmt.step(), let hash = SHA256Digest(bytes: stmt.blob(1)) else { return nil }
        return ChainHead(sequence: UInt64(stmt.int(0)), hash: hash)
    }

    func insert(_ rows: IngestRows, hostID: String, range: Range<Int>) throws {
        guard !range.isEmpty else { return }
        let width = SQLiteSchema.rowsPerInsert
        let full = try db.statement(SQLiteSchema.insertRecordsFull)
        let one = try db.statement(SQLiteSchema.insertRecordOne)
        let hostBytes = Array(hostID.utf8)
        try hostBytes.withUnsafeBytes { host in
            try rows.bytes.withUnsafeBytes { bytes in
                // SAFETY: every pointer bound below (SQLITE_STATIC, no copy) points into `bytes` or `host`,
                // both alive for this closure (host ids are ≥ 1 byte, so `host` has a base); each statement
                // is stepped to completion before its next binding, and both are reset (bindings cleared)
                // before the closure returns.
                defer {
                    full.reset()
                    one.reset()
                }
                var index = range.lowerBound
                while range.upperBound - index >= width {
                    for slot in 0..<width { bind(full, slot: slot, rows, rows.rows[index + slot], bytes, host) }
                    try full.runAndRewind()
                    index += width
                }
                while index < range.upperBound {
                    bind(one, slot: 0, rows, rows.rows[index], bytes, host)
                    try one.runAndRewind()
                    index += 1
                }
            }
        }
    }

    /// Binds one row to parameters `slot * 11 + 1 … slot * 11 + 11` of `stmt`.
    private func bind(_ stmt: SQLiteStatement, slot: Int, _ rows: IngestRows, _ row: IngestRow,
                      _ bytes: UnsafeRawBufferPointer, _ host: UnsafeRawBufferPointer) {
        let p = Int32(slot * SQLiteSchema.columnsPerRow)
        stmt.bindStatic(p + 1, text: bytes, row.id)
        stmt.bindStatic(p + 2, text: host, ByteSpan(start: 0, count: Int32(host.count)))
        stmt.bindStatic(p + 3, text: bytes, rows.agentSpans[Int(row.agent)])
        stmt.bind(p + 4, Int64(row.sequence))
        stmt.bind(p + 5, Int64(row.hostSeq))
        withUnsafeBytes(of: row.hash) { _ = stmt.bind(p + 6, $0) }  // 32 bytes, copied (TRANSIENT)
        stmt.bindStatic(p + 7, text: bytes, row.sessionID)
        stmt.bindStatic(p + 8, text: bytes, row.actionType)
        stmt.bindStatic(p + 9, text: bytes, row.actionStatus)
        stmt.bind(p + 10, row.timestampMicros)
        stmt.bindStatic(p + 11, blob: bytes, row.line)
    }

    func updateChain(hostID: String, agentID: String, head: ChainHead, firstSequence: UInt64, addedRecords: Int,
                     lastActivityMicros: Int64) throws {
        let stmt = try db.statement("""
            INSERT INTO chains(host_id, agent_id, sequence, hash, first_sequence, records, last_activity)
            VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)
            ON CONFLICT(host_id, agent_id) DO UPDATE SET sequence = excluded.sequence, hash = excluded.hash,
                records = records + excluded.records, last_activity = excluded.last_activity
            """)
        stmt.bind(1, hostID).bind(2, agentID).bind(3, Int64(head.sequence))
        _ = head.hash.withUnsafeBytes { stmt.bind(4, $0) }
        stmt.bind(5, Int64(firstSequence)).bind(6, Int64(addedRecords)).bind(7, lastActivityMicros)
        try stmt.run()
    }

    func updateHost(hostID: String, lastHostSeq: UInt64, addedRecords: Int, lastActivityMicros: Int64) throws {
        let stmt = try db.statement("""
            INSERT INTO hosts(host_id, kind, host_seq, records, last_activity, created_at)
            VALUES(?1, 'server', ?2, ?3, ?4, ?4)
            ON CONFLICT(host_id) DO UPDATE SET host_seq = excluded.host_seq, records = records + excluded.records,
                last_activity = excluded.last_activity
            """)
        stmt.bind(1, hostID).bind(2, Int64(lastHostSeq)).bind(3, Int64(addedRecords)).bind(4, lastActivityMicros)
        try stmt.run()
    }

    func insertBatch(hostID: String, batchSeq: UInt64, lastHostSeq: UInt64, bodySHA256: SHA256Digest, records: Int,
                     atMicros: Int64) throws {
        // A batch re-sent with a longer tail has the same first host_seq: keep the latest.
        let stmt = try db.statement("""
            INSERT OR REPLACE INTO batches(host_id, batch_seq, last_host_seq, body_sha256, records, accepted_at)
            VALUES(?1, ?2, ?3, ?4, ?5, ?6)
            """)
        stmt.bind(1, hostID).bind(2, Int64(batchSeq)).bind(3, Int64(lastHostSeq))
        _ = bodySHA256.withUnsafeBytes { stmt.bind(4, $0) }
        stmt.bind(5, Int64(records)).bind(6, atMicros)
        try stmt.run()
    }

    func insertIncident(_ incident: Incident) throws -> Int64 {
        let stmt = try db.statement("""
            INSERT INTO incidents(kind, host_id, agent_id, batch_seq, detail, created_at)
            VALUES(?1, ?2, ?3, ?4, ?5, ?6)
            """)
        stmt.bind(1, incident.kind.rawValue).bind(2, incident.hostID).bind(3, incident.agentID)
        if let batchSeq = incident.batchSeq { stmt.bind(4, Int64(batchSeq)) }
        stmt.bind(5, incident.detail).bind(6, incident.createdAtMicros)
        try stmt.run()
        let id = sqlite3LastInsertRowID(db)
        if let agentID = incident.agentID {
            let mark = try db.statement("UPDATE chains SET status = ?3 WHERE host_id = ?1 AND agent_id = ?2")
            mark.bind(1, incident.hostID).bind(2, agentID).bind(3, incident.kind.rawValue)
            try mark.run()
        }
        return id
    }
}
