// The SQLite schema, version 1.
//
// Durability: WAL with synchronous=FULL, so a transaction is on disk when COMMIT
// returns, and the server answers 2xx only after COMMIT (acknowledged = committed;
// ARCHITECTURE.md invariant 3 relies on it: the relay drops what we acknowledged).
// Group commit (SQLiteWriter) amortises the fsync over every batch waiting.
//
// `records.pos` is the storage order: ascending within a chain and within a host,
// so it serves as the cursor and as the chain order for verification.
enum SQLiteSchema {
    static let pragmas = """
        PRAGMA journal_mode=WAL;
        PRAGMA synchronous=FULL;
        PRAGMA foreign_keys=OFF;
        PRAGMA temp_store=MEMORY;
        PRAGMA cache_size=-65536;
        """

    /// Rows per INSERT statement in the ingest hot loop. Each statement costs a fixed amount
    /// besides its rows (opening a cursor per index, statement journal, halt): one statement
    /// per 64 rows cut the writer's instructions per record markedly (callgrind, docs/SERVER.md).
    static let rowsPerInsert = 64
    static let columnsPerRow = 11

    /// `INSERT INTO records(…) VALUES (?,…), …` for `rows` rows, parameters numbered in order.
    static func insertRecords(rows: Int) -> String {
        var sql = "INSERT INTO records(id, host_id, agent_id, sequence, host_seq, hash, session_id, action_type, "
            + "action_status, ts, body) VALUES "
        for row in 0..<rows {
            let base = row * columnsPerRow
            sql += (row == 0 ? "(" : ",(") + (1...columnsPerRow).map { "?\(base + $0)" }.joined(separator: ",") + ")"
        }
        return sql
    }
    static let insertRecordsFull = insertRecords(rows: rowsPerInsert)
    static let insertRecordOne = insertRecords(rows: 1)

    static let version1 = """
        CREATE TABLE IF NOT EXISTS records(
            pos INTEGER PRIMARY KEY,
            id TEXT NOT NULL,
            host_id TEXT NOT NULL,
            agent_id TEXT NOT NULL,
            sequence INTEGER NOT NULL,
            host_seq INTEGER NOT NULL,
            hash BLOB NOT NULL,
            session_id TEXT,
            action_type TEXT,
            action_status TEXT,
            ts INTEGER NOT NULL,
            body BLOB NOT NULL);
        CREATE UNIQUE INDEX IF NOT EXISTS records_host_seq ON records(host_id, host_seq);
        CREATE INDEX IF NOT EXISTS records_id ON records(id);
        CREATE INDEX IF NOT EXISTS records_agent ON records(agent_id);
        CREATE INDEX IF NOT EXISTS records_session ON records(session_id) WHERE session_id IS NOT NULL;
        -- Indexes of earlier builds that cost the writer more than they gave the queries (docs/SERVER.md).
        DROP INDEX IF EXISTS records_action_type;
        DROP INDEX IF EXISTS records_ts;
        CREATE TABLE IF NOT EXISTS chains(
            host_id TEXT NOT NULL,
            agent_id TEXT NOT NULL,
            sequence INTEGER NOT NULL,
            hash BLOB NOT NULL,
            first_sequence INTEGER NOT NULL,
            records INTEGER NOT NULL,
            last_activity INTEGER NOT NULL,
            status TEXT NOT NULL DEFAULT 'ok',
            PRIMARY KEY(host_id, agent_id)) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS hosts(
            host_id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            public_key TEXT,
            revoked INTEGER NOT NULL DEFAULT 0,
            host_seq INTEGER NOT NULL DEFAULT 0,
            records INTEGER NOT NULL DEFAULT 0,
            last_activity INTEGER,
            created_at INTEGER NOT NULL) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS batches(
            host_id TEXT NOT NULL,
            batch_seq INTEGER NOT NULL,
            last_host_seq INTEGER NOT NULL,
            body_sha256 BLOB NOT NULL,
            records INTEGER NOT NULL,
            accepted_at INTEGER NOT NULL,
            PRIMARY KEY(host_id, batch_seq)) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS incidents(
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,
            host_id TEXT NOT NULL,
            agent_id TEXT,
            batch_seq INTEGER,
            detail TEXT NOT NULL,
            created_at INTEGER NOT NULL);
        CREATE INDEX IF NOT EXISTS incidents_host ON incidents(host_id, agent_id);
        CREATE TABLE IF NOT EXISTS api_keys(
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            scopes TEXT NOT NULL,
            key_hash TEXT NOT NULL UNIQUE,
            created_at INTEGER NOT NULL,
            revoked INTEGER NOT NULL DEFAULT 0);
        CREATE TABLE IF NOT EXISTS enrollment_tokens(
            token_hash TEXT PRIMARY KEY,
            expires_at INTEGER NOT NULL,
            used_by TEXT);
        PRAGMA user_version=1;
        """
}
