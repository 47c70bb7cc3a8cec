import Foundation
import LedgerCore

/// The embedded default store: one SQLite database `ledger.db` in the data directory.
/// One writer connection behind a group-commit thread, a pool of reader connections.
public final class SQLiteStore: Store, @unchecked Sendable {
    public let path: String
    private let writer: SQLiteWriter
    let readers: ReaderPool
    /// Key and host lookups (every request authenticates) and /healthz: never queued behind the
    /// exports, verifications and label scans that may hold every reader.
    let control: ReaderPool
    private let checkpointer: SQLiteCheckpointer
    /// Seconds per commit and jobs per commit, for /metrics.
    public var onCommit: ((Int, Double) -> Void)? {
        get { writer.onCommit }
        set { writer.onCommit = newValue }
    }

    /// Opens (creating when needed) `<directory>/ledger.db`. `walResetFrames`: see
    /// `SQLiteWriter.walResetFrames` (tests make it small to watch the WAL rewind).
    public init(directory: String, readers: Int = 4, walResetFrames: Int32 = 8192) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        path = directory + "/ledger.db"
        let db = try SQLiteConnection(path: path)
        try db.execute(SQLiteSchema.pragmas)
        try db.execute(SQLiteSchema.version1)
        // Checkpoints run on their own thread (SQLiteCheckpointer), not inside the writer's COMMIT.
        try db.execute("PRAGMA wal_autocheckpoint=0")
        checkpointer = try SQLiteCheckpointer(path: path)
        writer = SQLiteWriter(db: db, checkpointer: checkpointer)
        writer.walResetFrames = walResetFrames
        self.readers = ReaderPool(path: path, size: max(1, readers))
        control = ReaderPool(path: path, size: 2)
    }

    deinit {
        writer.close()
        checkpointer.close()
    }

    public func close() {
        writer.close()
        checkpointer.close()
        readers.close()
        control.close()
    }

    public func ping() throws { try control.with { try $0.execute("SELECT 1") } }

    // MARK: Ingest

    public func appendRelayBatch(_ batch: VerifiedRelayBatch) throws -> RelayBatchOutcome {
        try writer.perform { tx in try RelayBatchApplier.apply(batch, in: tx) }
    }

    public func appendDirect(hostID: String, records: IngestRows) throws {
        let now = nowMicros()
        try writer.perform { tx in try tx.appendSealed(hostID: hostID, records: records, nowMicros: now) }
    }

    public func loadHostChains(hostID: String) throws -> HostChains {
        try readers.with { db in
            let host = try db.statement("SELECT host_seq FROM hosts WHERE host_id = ?1")
            host.bind(1, hostID)
            let lastHostSeq = try host.step() ? UInt64(host.int(0)) : 0
            var heads: [ExactString: ChainHead] = [:]
            let stmt = try db.statement("SELECT agent_id, sequence, hash FROM chains WHERE host_id = ?1")
            stmt.bind(1, hostID)
            while try stmt.step() {
                guard let agent = stmt.string(0), let hash = SHA256Digest(bytes: stmt.blob(2)) else {
                    throw StoreError.corrupt("chain row of host \(hostID)")
                }
                heads[ExactString(agent)] = ChainHead(sequence: UInt64(stmt.int(1)), hash: hash)
            }
            return HostChains(hostID: hostID, lastHostSeq: lastHostSeq, heads: heads)
        }
    }

    public func claimServerHost(id: String) throws {
        let now = nowMicros()
        try writer.perform { tx in
            if let state = try tx.hostState(hostID: id) {
                guard state.kind == .server else { throw StoreError.relayHoldsServerID(id) }
                return
            }
            let stmt = try tx.db.statement(
                "INSERT INTO hosts(host_id, kind, host_seq, records, created_at) VALUES(?1, 'server', 0, 0, ?2)")
            stmt.bind(1, id).bind(2, now)
            try stmt.run()
        }
    }

    // MARK: Hosts and enrollment

    public func addHost(id: String, publicKey: String) throws {
        let now = nowMicros()
        try writer.perform { tx in
            if let state = try tx.hostState(hostID: id) { throw StoreError.hostTaken(id, state.kind) }
            let stmt = try tx.db.statement(
                "INSERT INTO hosts(host_id, kind, public_key, created_at) VALUES(?1, 'relay', ?2, ?3)")
            stmt.bind(1, id).bind(2, publicKey).bind(3, now)
            try stmt.run()
        }
    }

    public func revokeHost(id: String) throws -> Bool {
        try writer.perform { tx in
            let stmt = try tx.db.statement("UPDATE hosts SET revoked = 1 WHERE host_id = ?1 AND kind = 'relay'")
            stmt.bind(1, id)
            try stmt.run()
            return tx.db.changes > 0
        }
    }

    public func rotateHostKey(id: String, publicKey: String) throws -> Bool {
        try writer.perform { tx in
            let stmt = try tx.db.statement(
                "UPDATE hosts SET public_key = ?2, revoked = 0 WHERE host_id = ?1 AND kind = 'relay'")
            stmt.bind(1, id).bind(2, publicKey)
            try stmt.run()
            return tx.db.changes > 0
        }
    }

    public func addEnrollmentToken(hash: String, expiresAtMicros: Int64) throws {
        try writer.perform { tx in
            let stmt = try tx.db.statement("INSERT INTO enrollment_tokens(token_hash, expires_at) VALUES(?1, ?2)")
            stmt.bind(1, hash).bind(2, expiresAtMicros)
            try stmt.run()
        }
    }

    public func redeemEnrollmentToken(hash: String, hostID: String, publicKey: String, nowMicros now: Int64) throws -> Bool {
        try writer.perform { tx in
            let use = try tx.db.statement("""
                UPDATE enrollment_tokens SET used_by = ?2
                WHERE token_hash = ?1 AND used_by IS NULL AND expires_at > ?3
                """)
            use.bind(1, hash).bind(2, hostID).bind(3, now)
            try use.run()
            guard tx.db.changes == 1 else { return false }
            // Throwing rolls the token use back with the job's savepoint.
            if let state = try tx.hostState(hostID: hostID) {
                throw StoreError.hostTaken(hostID, state.kind)
            }
            let stmt = try tx.db.statement(
                "INSERT INTO hosts(host_id, kind, public_key, created_at) VALUES(?1, 'relay', ?2, ?3)")
            stmt.bind(1, hostID).bind(2, publicKey).bind(3, now)
            try stmt.run()
            return true
        }
    }

    // MARK: API keys

    public func addAPIKey(_ key: APIKeyEntry, hash: String) throws {
        try writer.perform { tx in
            let stmt = try tx.db.statement(
                "INSERT INTO api_keys(id, name, scopes, key_hash, created_at) VALUES(?1, ?2, ?3, ?4, ?5)")
            stmt.bind(1, key.id).bind(2, key.name).bind(3, key.scopes.map(\.rawValue).joined(separator: ","))
                .bind(4, hash).bind(5, key.createdAtMicros)
            try stmt.run()
        }
    }

    public func apiKey(hash: String) throws -> APIKeyEntry? {
        try control.with { db in
            let stmt = try db.statement(
                "SELECT id, name, scopes, created_at, revoked FROM api_keys WHERE key_hash = ?1 AND revoked = 0")
            stmt.bind(1, hash)
            return try stmt.step() ? Self.keyEntry(stmt) : nil
        }
    }

    public func apiKeys() throws -> [APIKeyEntry] {
        try readers.with { db in
            let stmt = try db.statement("SELECT id, name, scopes, created_at, revoked FROM api_keys ORDER BY created_at")
            var keys: [APIKeyEntry] = []
            while try stmt.step() { keys.append(Self.keyEntry(stmt)) }
            return keys
        }
    }

    public func revokeAPIKey(id: String) throws -> Bool {
        try writer.perform { tx in
            let stmt = try tx.db.statement("UPDATE api_keys SET revoked = 1 WHERE id = ?1")
            stmt.bind(1, id)
            try stmt.run()
            return tx.db.changes > 0
        }
    }

    private static func keyEntry(_ stmt: SQLiteStatement) -> APIKeyEntry {
        APIKeyEntry(id: stmt.string(0) ?? "", name: stmt.string(1) ?? "",
                    scopes: (stmt.string(2) ?? "").split(separator: ",").compactMap { Scope(rawValue: String($0)) },
                    createdAtMicros: stmt.int(3), revoked: stmt.int(4) != 0)
    }

    func withReader<T>(_ body: (SQLiteConnection) throws -> T) throws -> T { try readers.with(body) }
}

func nowMicros() -> Int64 {
    var spec = timespec()
    clock_gettime(CLOCK_REALTIME, &spec)
    return Int64(spec.tv_sec) * 1_000_000 + Int64(spec.tv_nsec) / 1000
}

/// Read-only connections handed to one thread at a time.
final class ReaderPool: @unchecked Sendable {
    private let path: String
    private let condition = NSCondition()
    private var idle: [SQLiteConnection] = []
    private var created = 0
    private let size: Int

    init(path: String, size: Int) {
        self.path = path
        self.size = size
    }

    func with<T>(_ body: (SQLiteConnection) throws -> T) throws -> T {
        let connection = try checkOut()
        defer { checkIn(connection) }
        return try body(connection)
    }

    /// A connection for the caller alone until `checkIn` (a snapshot held across several reads).
    func checkOut() throws -> SQLiteConnection {
        condition.lock()
        while idle.isEmpty && created >= size { condition.wait() }
        let pooled = idle.popLast()
        if pooled == nil { created += 1 }
        condition.unlock()
        if let pooled { return pooled }
        do {
            return try SQLiteConnection(path: path, readOnly: true)
        } catch {
            condition.lock(); created -= 1; condition.signal(); condition.unlock()
            throw error
        }
    }

    /// Drops a connection that must not be reused; a new one is opened on demand.
    func discard(_ connection: SQLiteConnection) {
        condition.lock()
        created -= 1
        condition.signal()
        condition.unlock()
    }

    func checkIn(_ connection: SQLiteConnection) {
        connection.resetAll()
        condition.lock()
        idle.append(connection)
        condition.signal()
        condition.unlock()
    }

    func close() {
        condition.lock()
        idle.removeAll()
        condition.unlock()
    }
}
