import LedgerCore

// INVARIANT (ARCHITECTURE.md 4, several servers on one database): a host's position
// and its chain heads move only while this transaction holds the host's row lock
// (`SELECT … FROM hosts … FOR UPDATE` in `hostState`, the first thing
// RelayBatchApplier asks). A second server receiving a batch of the same host blocks
// there until the first commits, then reads the heads the first one left, so it
// answers "replay" or continues the chain, never forks or duplicates it. The unique
// indexes on (host_key, host_seq) and (agent_key, host_key, sequence) make any path that
// skipped the lock fail the whole transaction instead of storing a duplicate.
//
// The records of a request are written with one binary COPY, keyed by the integer keys of
// their host and agents (PostgresSchema version 2), which PostgresKeys remembers.

/// StoreTransaction on one pooled connection, inside an open transaction.
final class PostgresTransaction: StoreTransaction {
    let db: PostgresConnection
    private let keys: PostgresKeys
    /// Keys read or created in this transaction: published to `keys` only after COMMIT, because
    /// a row this transaction created vanishes with a rollback, and its key must not be reused.
    private(set) var learned = PostgresKeys.Learned()

    init(db: PostgresConnection, keys: PostgresKeys) {
        self.db = db
        self.keys = keys
    }

    func hostState(hostID: String) throws -> HostState? {
        let result = try db.query("""
            SELECT host_seq, key, kind, revoked, public_key FROM hosts WHERE host_id = $1 FOR UPDATE
            """, PostgresParameters { $0.add(hostID) })
        guard result.rows == 1 else { return nil }
        learned.hosts[hostID] = Int32(truncatingIfNeeded: result.int(0, 1))
        guard let kind = result.string(0, 2).flatMap(HostEntry.Kind.init(rawValue:)) else {
            throw StoreError.corrupt("host \(hostID) has an unknown kind")
        }
        return HostState(kind: kind, lastHostSeq: UInt64(result.int(0, 0)), revoked: result.int(0, 3) != 0,
                         publicKey: result.string(0, 4))
    }

    /// Hashes read ahead by `storedHash`: one host's, from `first` on (nil where no record is stored).
    private var readAhead: (hostID: String, first: UInt64, hashes: [SHA256Digest?])?
    /// Records fetched per read-ahead: a replayed batch asks for every record it repeats, in
    /// ascending host_seq, and one round trip per record made a 1,000-record replay take 1,000.
    static let readAheadRecords: UInt64 = 1024

    func storedHash(hostID: String, hostSeq: UInt64) throws -> SHA256Digest? {
        if let ahead = readAhead, ahead.hostID == hostID, hostSeq >= ahead.first,
           hostSeq - ahead.first < UInt64(ahead.hashes.count) {
            return ahead.hashes[Int(hostSeq - ahead.first)]
        }
        guard let host = try hostKey(hostID, create: false) else { return nil }
        // The host's row is locked (lastHostSeq), so what is read here cannot change before COMMIT.
        let result = try db.query("""
            SELECT host_seq, hash FROM records WHERE host_key = $1 AND host_seq >= $2 AND host_seq < $3
            ORDER BY host_seq
            """, PostgresParameters {
                $0.add(Int64(host)); $0.add(hostSeq); $0.add(min(hostSeq, UInt64(Int64.max) - Self.readAheadRecords) + Self.readAheadRecords)
            })
        var hashes = [SHA256Digest?](repeating: nil, count: Int(Self.readAheadRecords))
        for row in 0..<result.rows {
            hashes[Int(UInt64(result.int(row, 0)) - hostSeq)] = result.digest(row, 1)
        }
        readAhead = (hostID, hostSeq, hashes)
        return hashes[0]
    }

    func chainHead(hostID: String, agentID: String) throws -> ChainHead? {
        let result = try db.query("SELECT sequence, hash FROM chains WHERE host_id = $1 AND agent_id = $2",
                                  PostgresParameters { $0.add(hostID); $0.add(agentID) })
        guard result.rows == 1, let hash = result.digest(0, 1) else { return nil }
        return ChainHead(sequence: UInt64(result.int(0, 0)), hash: hash)
    }

    func insert(_ rows: IngestRows, hostID: String, range: Range<Int>) throws {
        guard !range.isEmpty else { return }
        guard let host = try hostKey(hostID, create: true) else {
            throw StoreError.corrupt("host \(hostID) has no key")
        }
        // Indexed by the batch's agent number, like RelayBatchApplier: no string hashing per record.
        var agentKeys = [Int32?](repeating: nil, count: rows.agents.count)
        var used = [Bool](repeating: false, count: rows.agents.count)
        for row in rows.rows[range] { used[Int(row.agent)] = true }
        // In one order everywhere: two transactions creating the same new agents wait for each
        // other in that order instead of deadlocking.
        for agent in used.indices.filter({ used[$0] }).sorted(by: { ExactString(rows.agents[$0]) < ExactString(rows.agents[$1]) }) {
            agentKeys[agent] = try agentKey(rows.agents[agent])
        }
        // The lines (contiguous in `rows.bytes`) plus the other fields and their length words.
        let first = rows.rows[range.first!].line, last = rows.rows[range.last!].line
        var copy = PostgresCopy(expectedBytes: max(0, Int(last.start + last.count - first.start)) + 192 * range.count)
        try rows.bytes.withUnsafeBytes { bytes in
            for row in rows.rows[range] {
                copy.beginRow(fields: 11)
                guard copy.add(uuidText: row.id, of: bytes) else {
                    throw StoreError.corrupt("record id at host_seq \(row.hostSeq) of \(hostID) is not a UUID")
                }
                copy.add(host)
                copy.add(agentKeys[Int(row.agent)]!)
                copy.add(Int64(row.sequence))
                copy.add(Int64(row.hostSeq))
                withUnsafeBytes(of: row.hash) { copy.add(bytes: $0) }
                copy.add(span: row.sessionID, of: bytes)
                copy.add(span: row.actionType, of: bytes)
                copy.add(span: row.actionStatus, of: bytes)
                copy.add(row.timestampMicros)
                copy.add(span: row.line, of: bytes)
            }
        }
        copy.finish()
        try db.copy("""
            COPY records(id, host_key, agent_key, sequence, host_seq, hash, session_id, action_type, action_status,
                         ts, body) FROM STDIN (FORMAT binary)
            """, data: copy.data)
    }

    /// The key of `hostID`'s row; with `create`, a server host's row is created when new
    /// (its own chains' first records: updateHost fills it in later in this transaction).
    private func hostKey(_ hostID: String, create: Bool) throws -> Int32? {
        if let key = learned.hosts[hostID] ?? keys.host(hostID) { return key }
        var result = try db.query("SELECT key FROM hosts WHERE host_id = $1", PostgresParameters { $0.add(hostID) })
        if result.rows == 0 && create {
            // Each server seals only its own --host-id, so no other writer races for this row.
            result = try db.query("""
                INSERT INTO hosts(host_id, kind, created_at) VALUES($1, 'server', $2) RETURNING key
                """, PostgresParameters { $0.add(hostID); $0.add(nowMicros()) })
        }
        guard result.rows == 1 else { return nil }
        let key = Int32(truncatingIfNeeded: result.int(0, 0))
        learned.hosts[hostID] = key
        return key
    }

    /// The key of `agentID`, created when new. Agents are shared by every host and server: a
    /// concurrent creator of the same agent makes ON CONFLICT wait for its commit, and then
    /// the second SELECT (a new snapshot) sees the row.
    private func agentKey(_ agentID: String) throws -> Int32 {
        if let key = learned.agents[ExactString(agentID)] ?? keys.agent(agentID) { return key }
        let select = "SELECT key FROM agents WHERE agent_id = $1"
        var result = try db.query(select, PostgresParameters { $0.add(agentID) })
        if result.rows == 0 {
            result = try db.query("INSERT INTO agents(agent_id) VALUES($1) ON CONFLICT(agent_id) DO NOTHING RETURNING key",
                                  PostgresParameters { $0.add(agentID) })
            if result.rows == 0 { result = try db.query(select, PostgresParameters { $0.add(agentID) }) }
        }
        guard result.rows == 1 else { throw StoreError.corrupt("agent \(agentID) has no key") }
        let key = Int32(truncatingIfNeeded: result.int(0, 0))
        learned.agents[ExactString(agentID)] = key
        return key
    }

    func updateChain(hostID: String, agentID: String, head: ChainHead, firstSequence: UInt64, addedRecords: Int,
                     lastActivityMicros: Int64) throws {
        try db.query("""
            INSERT INTO chains(host_id, agent_id, sequence, hash, first_sequence, records, last_activity)
            VALUES($1, $2, $3, $4, $5, $6, $7)
            ON CONFLICT(host_id, agent_id) DO UPDATE SET sequence = excluded.sequence, hash = excluded.hash,
                records = chains.records + excluded.records, last_activity = excluded.last_activity
            """, PostgresParameters {
                $0.add(hostID); $0.add(agentID); $0.add(head.sequence); $0.add(head.hash)
                $0.add(firstSequence); $0.add(Int64(addedRecords)); $0.add(lastActivityMicros)
            })
    }

    func updateHost(hostID: String, lastHostSeq: UInt64, addedRecords: Int, lastActivityMicros: Int64) throws {
        // A relay host's row is already locked (lastHostSeq). A server's own host row may be new:
        // each server seals only its own --host-id, so no other writer races for it.
        try db.query("""
            INSERT INTO hosts(host_id, kind, host_seq, records, last_activity, created_at)
            VALUES($1, 'server', $2, $3, $4, $4)
            ON CONFLICT(host_id) DO UPDATE SET host_seq = excluded.host_seq, records = hosts.records + excluded.records,
                last_activity = excluded.last_activity
            """, PostgresParameters {
                $0.add(hostID); $0.add(lastHostSeq); $0.add(Int64(addedRecords)); $0.add(lastActivityMicros)
            })
    }

    func insertBatch(hostID: String, batchSeq: UInt64, lastHostSeq: UInt64, bodySHA256: SHA256Digest, records: Int,
                     atMicros: Int64) throws {
        // A batch re-sent with a longer tail has the same first host_seq: keep the latest.
        try db.query("""
            INSERT INTO batches(host_id, batch_seq, last_host_seq, body_sha256, records, accepted_at)
            VALUES($1, $2, $3, $4, $5, $6)
            ON CONFLICT(host_id, batch_seq) DO UPDATE SET last_host_seq = excluded.last_host_seq,
                body_sha256 = excluded.body_sha256, records = excluded.records, accepted_at = excluded.accepted_at
            """, PostgresParameters {
                $0.add(hostID); $0.add(batchSeq); $0.add(lastHostSeq); $0.add(bodySHA256)
                $0.add(Int64(records)); $0.add(atMicros)
            })
    }

    func insertIncident(_ incident: Incident) throws -> Int64 {
        let result = try db.query("""
            INSERT INTO incidents(kind, host_id, agent_id, batch_seq, detail, created_at)
            VALUES($1, $2, $3, $4, $5, $6) RETURNING id
            """, PostgresParameters {
                $0.add(incident.kind.rawValue); $0.add(incident.hostID); $0.add(incident.agentID)
                if let batchSeq = incident.batchSeq { $0.add(batchSeq) } else { $0.addNullInt() }
                $0.add(incident.detail); $0.add(incident.createdAtMicros)
            })
        if let agentID = incident.agentID {
            try db.query("UPDATE chains SET status = $3 WHERE host_id = $1 AND agent_id = $2",
                         PostgresParameters { $0.add(incident.hostID); $0.add(agentID); $0.add(incident.kind.rawValue) })
        }
        return result.int(0, 0)
    }
}
