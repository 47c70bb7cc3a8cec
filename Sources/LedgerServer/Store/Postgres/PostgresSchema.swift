// The PostgreSQL schema, as numbered migrations recorded in `schema_migrations`.
//
// `ledger-server migrate` applies them, and so does every server at start. Migrations
// run under a transaction-scoped advisory lock, so servers starting together against
// one database apply each migration exactly once; a database migrated by a newer
// server (a version above `migrations.count`) is refused rather than guessed at.
//
// Same tables as SQLite (SQLiteSchema), with these differences:
// - every integer is bigint (binary results decode one width), hashes and bodies bytea;
// - `records.pos` is an identity column: storage order within a host and within a chain,
//   because every writer of a host holds that host's row lock (FOR UPDATE on `hosts`)
//   while it inserts. Across hosts, positions are allocated before commit, so a cursor
//   reader can see a lower position appear after a higher one (documented in OPERATIONS.md);
// - unique indexes on (host_id, host_seq) and (host_id, agent_id, sequence) are the last line
//   of defence behind the row locks: a duplicate makes the whole transaction fail;
// - the indexes are SQLite's (no action_type or timestamp index: their cost on every insert
//   outweighed the filters they serve, which narrow rows found through another index).
//
// Version 2 makes each record's index entries narrow, because inserting them was most of
// PostgreSQL's CPU per record (perf: ExecInsertIndexTuples 45% of the backends' samples in
// version 1, much of it comparing text under the database's collation):
// - `records.host_key` / `agent_key` (integers from `hosts.key` and `agents.key`) replace the
//   repeated host_id / agent_id text; `id` is a `uuid` (16 bytes, compared as memory);
//   `session_id` compares bytewise (COLLATE "C": equality is all it is queried by);
// - the agent filter is served by the chain's unique index, reordered to
//   (agent_key, host_key, sequence), so the separate agent_id index is gone: four secondary
//   indexes per record instead of five, all but the session one on fixed-width keys.
enum PostgresSchema {
    /// Arbitrary constant key of the advisory lock that serializes migrations ("ledger" in ASCII).
    static let migrationLockKey: Int64 = 0x6C65_6467_6572

    static let migrations: [String] = [version1, version2]

    static let bootstrap = """
        CREATE TABLE IF NOT EXISTS schema_migrations(
            version bigint PRIMARY KEY,
            applied_at timestamptz NOT NULL DEFAULT now())
        """

    static let version1 = """
        CREATE TABLE records(
            pos bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            id text NOT NULL,
            host_id text NOT NULL,
            agent_id text NOT NULL,
            sequence bigint NOT NULL,
            host_seq bigint NOT NULL,
            hash bytea NOT NULL,
            session_id text,
            action_type text,
            action_status text,
            ts bigint NOT NULL,
            body bytea NOT NULL);
        CREATE UNIQUE INDEX records_host_seq ON records(host_id, host_seq);
        CREATE UNIQUE INDEX records_chain_seq ON records(host_id, agent_id, sequence);
        CREATE INDEX records_id ON records(id);
        CREATE INDEX records_agent ON records(agent_id);
        CREATE INDEX records_session ON records(session_id) WHERE session_id IS NOT NULL;
        CREATE TABLE chains(
            host_id text NOT NULL,
            agent_id text NOT NULL,
            sequence bigint NOT NULL,
            hash bytea NOT NULL,
            first_sequence bigint NOT NULL,
            records bigint NOT NULL,
            last_activity bigint NOT NULL,
            status text NOT NULL DEFAULT 'ok',
            PRIMARY KEY(host_id, agent_id));
        CREATE TABLE hosts(
            host_id text PRIMARY KEY,
            kind text NOT NULL,
            public_key text,
            revoked bigint NOT NULL DEFAULT 0,
            host_seq bigint NOT NULL DEFAULT 0,
            records bigint NOT NULL DEFAULT 0,
            last_activity bigint,
            created_at bigint NOT NULL);
        CREATE TABLE batches(
            host_id text NOT NULL,
            batch_seq bigint NOT NULL,
            last_host_seq bigint NOT NULL,
            body_sha256 bytea NOT NULL,
            records bigint NOT NULL,
            accepted_at bigint NOT NULL,
            PRIMARY KEY(host_id, batch_seq));
        CREATE TABLE incidents(
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            kind text NOT NULL,
            host_id text NOT NULL,
            agent_id text,
            batch_seq bigint,
            detail text NOT NULL,
            created_at bigint NOT NULL);
        CREATE INDEX incidents_host ON incidents(host_id, agent_id);
        CREATE TABLE api_keys(
            id text PRIMARY KEY,
            name text NOT NULL,
            scopes text NOT NULL,
            key_hash text NOT NULL UNIQUE,
            created_at bigint NOT NULL,
            revoked bigint NOT NULL DEFAULT 0);
        CREATE TABLE enrollment_tokens(
            token_hash text PRIMARY KEY,
            expires_at bigint NOT NULL,
            used_by text)
        """

    /// Records keyed by integers (see the top of this file). Existing records are copied with
    /// their positions, so cursors handed out before the upgrade stay valid; the copy checks that
    /// every record arrived (a record whose host row were missing would otherwise be dropped by
    /// the join). Runs inside migrate's transaction: an upgrade either completes or changes nothing.
    static let version2 = """
        ALTER TABLE hosts ADD COLUMN key integer GENERATED ALWAYS AS IDENTITY UNIQUE;
        CREATE TABLE agents(
            key integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            agent_id text NOT NULL UNIQUE);
        INSERT INTO agents(agent_id) SELECT agent_id FROM records UNION SELECT agent_id FROM chains ORDER BY 1;
        CREATE TABLE records_v2(
            pos bigint GENERATED ALWAYS AS IDENTITY,
            id uuid NOT NULL,
            host_key integer NOT NULL,
            agent_key integer NOT NULL,
            sequence bigint NOT NULL,
            host_seq bigint NOT NULL,
            hash bytea NOT NULL,
            session_id text COLLATE "C",
            action_type text,
            action_status text,
            ts bigint NOT NULL,
            body bytea NOT NULL);
        INSERT INTO records_v2 OVERRIDING SYSTEM VALUE
            SELECT r.pos, r.id::uuid, h.key, a.key, r.sequence, r.host_seq, r.hash, r.session_id, r.action_type,
                   r.action_status, r.ts, r.body
            FROM records r JOIN hosts h ON h.host_id = r.host_id JOIN agents a ON a.agent_id = r.agent_id
            ORDER BY r.pos;
        DO $$ BEGIN
            IF (SELECT count(*) FROM records) <> (SELECT count(*) FROM records_v2) THEN
                RAISE EXCEPTION 'schema version 2: records without a host row; nothing was changed';
            END IF;
        END $$;
        SELECT setval(pg_get_serial_sequence('records_v2', 'pos'), coalesce(max(pos), 0) + 1, false) FROM records_v2;
        DROP TABLE records;
        ALTER TABLE records_v2 RENAME TO records;
        ALTER TABLE records ADD CONSTRAINT records_pkey PRIMARY KEY (pos);
        CREATE UNIQUE INDEX records_host_seq ON records(host_key, host_seq);
        CREATE UNIQUE INDEX records_chain_seq ON records(agent_key, host_key, sequence);
        CREATE INDEX records_id ON records(id);
        CREATE INDEX records_session ON records(session_id) WHERE session_id IS NOT NULL
        """

    /// Applies every migration not yet recorded (up to `target`, for tests); returns the versions applied now.
    @discardableResult
    static func migrate(_ db: PostgresConnection, upTo target: Int = migrations.count) throws -> [Int] {
        try db.execute("BEGIN")
        do {
            // The lock first: two servers creating schema_migrations at once would collide.
            try db.query("SELECT pg_advisory_xact_lock($1)", PostgresParameters { $0.add(migrationLockKey) })
            try db.execute(bootstrap)
            let current = try db.query("SELECT coalesce(max(version), 0)::int8 FROM schema_migrations")
            let found = Int(current.int(0, 0))
            guard found <= migrations.count else {
                throw PostgresError.schemaTooNew(found: found, known: migrations.count)
            }
            var applied: [Int] = []
            for version in (found + 1)..<(max(found, min(target, migrations.count)) + 1) {
                try db.execute(migrations[version - 1])
                try db.query("INSERT INTO schema_migrations(version) VALUES($1)",
                             PostgresParameters { $0.add(Int64(version)) })
                applied.append(version)
            }
            try db.execute("COMMIT")
            return applied
        } catch {
            try? db.execute("ROLLBACK")
            throw error
        }
    }
}
