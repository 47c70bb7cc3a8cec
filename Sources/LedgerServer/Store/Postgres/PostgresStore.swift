import Foundation
import LedgerCore

/// The scaled-out store: one PostgreSQL database shared by any number of servers
/// (`--database postgres://…`). Each write runs in its own transaction on a pooled
/// connection; PostgreSQL groups concurrent commits itself. A 2xx is sent only after
/// COMMIT returned (acknowledged = committed, ARCHITECTURE.md invariant 3).
public final class PostgresStore: Store, @unchecked Sendable {
    public let url: String
    let pool: PostgresPool
    /// Key and host lookups (every request authenticates) and /healthz, on two connections of
    /// their own: never queued behind the exports and verifications that may hold the whole pool.
    let control: PostgresPool
    let keys = PostgresKeys()
    /// Jobs per commit (always 1) and seconds per transaction, for /metrics.
    public var onCommit: ((Int, Double) -> Void)?

    /// Connects, waiting up to `waitSeconds` for the database to come up, and migrates the schema.
    public init(url: String, poolSize: Int = 8, waitSeconds: Double = 30) throws {
        self.url = url
        pool = PostgresPool(url: url, size: poolSize)
        control = PostgresPool(url: url, size: 2)
        let deadline = Date().addingTimeInterval(waitSeconds)
        var delay = 0.1
        while true {
            do {
                try migrate()
                break
            } catch let error as StoreError where Date() < deadline {
                guard case .unavailable = error else { throw error }
                Thread.sleep(forTimeInterval: delay)
                delay = min(delay * 2, 2)
            }
        }
    }

    /// Applies pending schema migrations (also run by `ledger-server migrate`); returns the versions applied.
    @discardableResult
    public func migrate() throws -> [Int] {
        try pool.with(retryOnStaleConnection: false) { try PostgresSchema.migrate($0) }
    }

    public func close() {
        pool.close()
        control.close()
    }

    public func ping() throws { try control.with { try $0.execute("SELECT 1") } }

    /// Runs `work` in one transaction and commits it. A transaction is run again when the
    /// database reports a deadlock or serialization failure, or when BEGIN finds the pooled
    /// connection dead (nothing was sent yet). After a lost COMMIT the outcome is unknown and
    /// the caller gets 503: a relay re-sends, and the replay check answers for what committed.
    func perform<T>(_ work: (PostgresTransaction) throws -> T) throws -> T {
        var attempt = 0
        while true {
            attempt += 1
            let started = DispatchTime.now().uptimeNanoseconds
            do {
                let result = try pool.with(retryOnStaleConnection: false) { db -> T in
                    do { try db.execute("BEGIN") } catch let error as PostgresError where error.isUnavailable {
                        if attempt < 3 { throw StaleConnection() }
                        throw error
                    }
                    do {
                        let tx = PostgresTransaction(db: db, keys: keys)
                        let result = try work(tx)
                        try db.execute("COMMIT")
                        keys.remember(tx.learned)
                        return result
                    } catch {
                        try? db.execute("ROLLBACK")
                        throw error
                    }
                }
                onCommit?(1, Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9)
                return result
            } catch is StaleConnection {
                continue
            } catch let error as PostgresError where error.isRetryable && attempt < 5 {
                continue
            } catch let error as PostgresError where error.isUnavailable {
                throw StoreError.unavailable(error.description)
            }
        }
    }

    /// BEGIN found a pooled connection dead: nothing was sent, so the transaction may start over.
    private struct StaleConnection: Error {}

    /// Runs an idempotent read on a pooled connection.
    func read<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        try pool.with(retryOnStaleConnection: true, body)
    }

    // MARK: Ingest

    public func appendRelayBatch(_ batch: VerifiedRelayBatch) throws -> RelayBatchOutcome {
        try perform { tx in try RelayBatchApplier.apply(batch, in: tx) }
    }

    public func appendDirect(hostID: String, records: IngestRows) throws {
        let now = nowMicros()
        try perform { tx in try tx.appendSealed(hostID: hostID, records: records, nowMicros: now) }
    }

    public func loadHostChains(hostID: String) throws -> HostChains {
        try read { db in
            let host = try db.query("SELECT host_seq FROM hosts WHERE host_id = $1", PostgresParameters { $0.add(hostID) })
            let lastHostSeq = host.rows == 1 ? UInt64(host.int(0, 0)) : 0
            let chains = try db.query("SELECT agent_id, sequence, hash FROM chains WHERE host_id = $1",
                                      PostgresParameters { $0.add(hostID) })
            var heads: [ExactString: ChainHead] = [:]
            for row in 0..<chains.rows {
                guard let agent = chains.string(row, 0), let hash = chains.digest(row, 2) else {
                    throw StoreError.corrupt("chain row of host \(hostID)")
                }
                heads[ExactString(agent)] = ChainHead(sequence: UInt64(chains.int(row, 1)), hash: hash)
            }
            return HostChains(hostID: hostID, lastHostSeq: lastHostSeq, heads: heads)
        }
    }

    public func claimServerHost(id: String) throws {
        let now = nowMicros()
        try perform { tx in
            try tx.db.query("""
                INSERT INTO hosts(host_id, kind, created_at) VALUES($1, 'server', $2) ON CONFLICT(host_id) DO NOTHING
                """, PostgresParameters { $0.add(id); $0.add(now) })
            guard let state = try tx.hostState(hostID: id), state.kind == .server else {
                throw StoreError.relayHoldsServerID(id)
            }
        }
    }

    /// The conflict for an id that exists: its row's kind decides the message.
    private func taken(_ id: String, _ tx: PostgresTransaction) throws -> StoreError {
        .hostTaken(id, try tx.hostState(hostID: id)?.kind ?? .relay)
    }

    // MARK: Hosts and enrollment

    public func addHost(id: String, publicKey: String) throws {
        let now = nowMicros()
        try perform { tx in
            let inserted = try tx.db.query("""
                INSERT INTO hosts(host_id, kind, public_key, created_at) VALUES($1, 'relay', $2, $3)
                ON CONFLICT(host_id) DO NOTHING
                """, PostgresParameters { $0.add(id); $0.add(publicKey); $0.add(now) })
            if inserted.affected == 0 { throw try taken(id, tx) }
        }
    }

    public func revokeHost(id: String) throws -> Bool {
        try perform { tx in
            try tx.db.query("UPDATE hosts SET revoked = 1 WHERE host_id = $1 AND kind = 'relay'",
                            PostgresParameters { $0.add(id) }).affected > 0
        }
    }

    public func rotateHostKey(id: String, publicKey: String) throws -> Bool {
        try perform { tx in
            try tx.db.query("UPDATE hosts SET public_key = $2, revoked = 0 WHERE host_id = $1 AND kind = 'relay'",
                            PostgresParameters { $0.add(id); $0.add(publicKey) }).affected > 0
        }
    }

    public func addEnrollmentToken(hash: String, expiresAtMicros: Int64) throws {
        _ = try perform { tx in
            try tx.db.query("INSERT INTO enrollment_tokens(token_hash, expires_at) VALUES($1, $2)",
                            PostgresParameters { $0.add(hash); $0.add(expiresAtMicros) })
        }
    }

    public func redeemEnrollmentToken(hash: String, hostID: String, publicKey: String, nowMicros now: Int64) throws -> Bool {
        try perform { tx in
            // The UPDATE's row lock makes the token single-use across servers.
            let used = try tx.db.query("""
                UPDATE enrollment_tokens SET used_by = $2
                WHERE token_hash = $1 AND used_by IS NULL AND expires_at > $3
                """, PostgresParameters { $0.add(hash); $0.add(hostID); $0.add(now) })
            guard used.affected == 1 else { return false }
            let inserted = try tx.db.query("""
                INSERT INTO hosts(host_id, kind, public_key, created_at) VALUES($1, 'relay', $2, $3)
                ON CONFLICT(host_id) DO NOTHING
                """, PostgresParameters { $0.add(hostID); $0.add(publicKey); $0.add(now) })
            // Throwing rolls the token use back with the transaction.
            if inserted.affected == 0 { throw try taken(hostID, tx) }
            return true
        }
    }

    // MARK: API keys

    public func addAPIKey(_ key: APIKeyEntry, hash: String) throws {
        _ = try perform { tx in
            try tx.db.query("INSERT INTO api_keys(id, name, scopes, key_hash, created_at) VALUES($1, $2, $3, $4, $5)",
                            PostgresParameters {
                                $0.add(key.id); $0.add(key.name); $0.add(key.scopes.map(\.rawValue).joined(separator: ","))
                                $0.add(hash); $0.add(key.createdAtMicros)
                            })
        }
    }

    public func apiKey(hash: String) throws -> APIKeyEntry? {
        try control.with { db in
            let result = try db.query(
                "SELECT id, name, scopes, created_at, revoked FROM api_keys WHERE key_hash = $1 AND revoked = 0",
                PostgresParameters { $0.add(hash) })
            return result.rows == 1 ? Self.keyEntry(result, 0) : nil
        }
    }

    public func apiKeys() throws -> [APIKeyEntry] {
        try read { db in
            let result = try db.query("SELECT id, name, scopes, created_at, revoked FROM api_keys ORDER BY created_at")
            return (0..<result.rows).map { Self.keyEntry(result, $0) }
        }
    }

    public func revokeAPIKey(id: String) throws -> Bool {
        try perform { tx in
            try tx.db.query("UPDATE api_keys SET revoked = 1 WHERE id = $1", PostgresParameters { $0.add(id) }).affected > 0
        }
    }

    private static func keyEntry(_ result: PostgresResult, _ row: Int) -> APIKeyEntry {
        APIKeyEntry(id: result.string(row, 0) ?? "", name: result.string(row, 1) ?? "",
                    scopes: (result.string(row, 2) ?? "").split(separator: ",").compactMap { Scope(rawValue: String($0)) },
                    createdAtMicros: result.int(row, 3), revoked: result.int(row, 4) != 0)
    }
}
