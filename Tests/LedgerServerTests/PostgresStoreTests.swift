import Foundation
import LedgerCore
@testable import LedgerServer
import Testing

/// The PostgreSQL store in process against a throwaway cluster: schema migrations, the integer
/// keys of version 2, replays read ahead. Skipped (with the loud message from `Backend.all`)
/// without PostgreSQL.
@Suite("PostgreSQL store: migrations, keys, replays")
struct PostgresStoreTests {
    static func ingestRows(_ lines: [[UInt8]]) throws -> IngestRows {
        var rows = IngestRows()
        let reader = RecordReader()
        for line in lines { rows.append(line: line, facts: try reader.read(line)) }
        return rows
    }

    static func batch(_ hostID: String, _ lines: [[UInt8]]) throws -> VerifiedRelayBatch {
        let rows = try ingestRows(lines)
        return VerifiedRelayBatch(hostID: hostID, batchSeq: rows.rows[0].hostSeq,
                                  bodySHA256: SHA256Hasher().hash(Array(lines.joined())), rows: rows,
                                  receivedAtMicros: 1_790_000_000_000_000)
    }

    /// A version 1 database holding `lines` of relay host `host` as the version 1 server stored them.
    static func versionOneDatabase(_ host: SimulatedHost, _ lines: [[UInt8]], hostRow: Bool = true) throws -> String {
        let url = try PostgresCluster.shared().createDatabase()
        let db = try PostgresConnection(url: url)
        #expect(try PostgresSchema.migrate(db, upTo: 1) == [1])
        if hostRow {
            try db.query("""
                INSERT INTO hosts(host_id, kind, public_key, host_seq, records, created_at) VALUES($1, 'relay', $2, $3, $3, 0)
                """, PostgresParameters { $0.add(host.hostID); $0.add(host.key.publicKey.base64); $0.add(Int64(lines.count)) })
        }
        let reader = RecordReader()
        for line in lines {
            let facts = try reader.read(line)
            try db.query("""
                INSERT INTO records(id, host_id, agent_id, sequence, host_seq, hash, session_id, action_type,
                                    action_status, ts, body) VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
                """, PostgresParameters {
                    $0.add(facts.id); $0.add(facts.hostID); $0.add(facts.agentID); $0.add(facts.sequence)
                    $0.add(facts.hostSeq); $0.add(facts.hash); $0.add(facts.sessionID); $0.add(facts.actionType)
                    $0.add(facts.actionStatus); $0.add(RFC3339.microseconds(facts.timestamp) ?? 0); $0.add(bytes: line)
                })
        }
        for (agent, head) in host.chains.heads {
            try db.query("""
                INSERT INTO chains(host_id, agent_id, sequence, hash, first_sequence, records, last_activity)
                VALUES($1, $2, $3, $4, 1, $3, 0)
                """, PostgresParameters { $0.add(host.hostID); $0.add(agent.string); $0.add(head.sequence); $0.add(head.hash) })
        }
        return url
    }

    static func all(_ store: PostgresStore, _ build: (inout RecordQuery) -> Void = { _ in }) throws -> [[UInt8]] {
        var query = RecordQuery()
        query.limit = 1000
        build(&query)
        return try store.records(query).lines
    }

    @Test(.enabled(if: Backend.all.contains(.postgres)))
    func versionOneRecordsSurviveTheMigrationWithTheirPositionsAndTheirChainsContinue() throws {
        let host = SimulatedHost(hostID: "migrated", key: try Ed25519PrivateKey())
        let lines = host.records(30, agents: 3)
        let url = try Self.versionOneDatabase(host, lines)
        let before = try PostgresConnection(url: url).query("SELECT pos FROM records ORDER BY pos")
        let positions = (0..<before.rows).map { before.int($0, 0) }

        let store = try PostgresStore(url: url, poolSize: 2)
        defer { store.close() }
        let version = try store.read { try $0.query("SELECT max(version)::int8 FROM schema_migrations") }
        #expect(version.int(0, 0) == 2)
        #expect(try Self.all(store) == lines)
        #expect(try Self.all(store) { $0.hostID = "migrated" } == lines)
        let reader = RecordReader()
        let facts = try lines.map { try reader.read($0) }
        #expect(try Self.all(store) { $0.agentID = "agent-1" } == lines.indices.filter { facts[$0].agentID == "agent-1" }.map { lines[$0] })
        #expect(try Self.all(store) { $0.sessionID = "s-3" } == lines.indices.filter { facts[$0].sessionID == "s-3" }.map { lines[$0] })
        #expect(try store.record(id: facts[7].id) == lines[7])
        #expect(try store.record(id: facts[7].id.uppercased()) == nil)
        // A cursor handed out before the upgrade continues where it was.
        #expect(try Self.all(store) { $0.after = positions[9] } == Array(lines[10...]))

        // Replays compare against migrated rows; new records continue the migrated chains.
        #expect(try store.appendRelayBatch(Self.batch("migrated", Array(lines[20...]))) == .replay(records: 10))
        let next = host.records(12, agents: 5)
        guard case let .stored(records, _, incidents) = try store.appendRelayBatch(Self.batch("migrated", next)) else {
            Issue.record("the batch after the migration was not stored")
            return
        }
        #expect(records == 12 && incidents.isEmpty)
        #expect(try Self.all(store) { $0.hostID = "migrated" } == lines + next)
        #expect(try Self.all(store) { $0.agentID = "agent-4" }.count == next.filter { try! reader.read($0).agentID == "agent-4" }.count)
        #expect(try store.chains(hostID: "migrated", agentID: nil).map(\.records).reduce(0, +) == 42)
    }

    @Test(.enabled(if: Backend.all.contains(.postgres)))
    func aMigrationThatWouldLoseARecordChangesNothing() throws {
        let host = SimulatedHost(hostID: "no-host-row", key: try Ed25519PrivateKey())
        let url = try Self.versionOneDatabase(host, host.records(5), hostRow: false)
        #expect(throws: PostgresError.self) { _ = try PostgresStore(url: url, poolSize: 1, waitSeconds: 0) }
        let db = try PostgresConnection(url: url)
        #expect(try db.query("SELECT max(version)::int8 FROM schema_migrations").int(0, 0) == 1)
        #expect(try db.query("SELECT count(*) FROM records WHERE host_id = 'no-host-row'").int(0, 0) == 5)
    }

    @Test(.enabled(if: Backend.all.contains(.postgres)))
    func keysOfARolledBackTransactionAreNotRemembered() throws {
        let store = try PostgresStore(url: try PostgresCluster.shared().createDatabase(), poolSize: 1)
        defer { store.close() }
        let host = SimulatedHost(hostID: "ghost:server", key: try Ed25519PrivateKey())
        let rows = try Self.ingestRows(host.records(6, agents: 2))
        #expect(throws: TestFailure.self) {
            try store.perform { tx in
                try tx.insert(rows, hostID: "ghost:server", range: rows.rows.indices)
                throw TestFailure("roll back after creating the host and agent rows")
            }
        }
        #expect(store.keys.host("ghost:server") == nil)
        #expect(store.keys.agent("agent-0") == nil)
        try store.appendDirect(hostID: "ghost:server", records: rows)
        #expect(store.keys.host("ghost:server") != nil && store.keys.agent("agent-1") != nil)
        // Every stored record points at a host and an agent row that exist, under the right names.
        let joined = try store.read { db in
            try db.query("""
                SELECT count(*) FROM records r JOIN hosts h ON h.key = r.host_key JOIN agents a ON a.key = r.agent_key
                WHERE h.host_id = 'ghost:server' AND a.agent_id IN ('agent-0', 'agent-1')
                """)
        }
        #expect(joined.int(0, 0) == 6)
        #expect(try Self.all(store) { $0.agentID = "agent-1" }.count == 3)
    }

    /// Every filter of GET /v1/events and the id lookup lead some index of `records`
    /// (docs/SERVER.md): dropping one without a replacement fails here.
    @Test(.enabled(if: Backend.all.contains(.postgres)))
    func everyQueriedColumnLeadsAnIndex() throws {
        let store = try PostgresStore(url: try PostgresCluster.shared().createDatabase(), poolSize: 1)
        defer { store.close() }
        let leading = try store.read { db in
            try db.query("""
                SELECT a.attname::text FROM pg_index i
                JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
                WHERE i.indrelid = 'records'::regclass
                """)
        }
        let columns = Set((0..<leading.rows).compactMap { leading.string($0, 0) })
        #expect(columns.isSuperset(of: ["pos", "host_key", "agent_key", "session_id", "id"]))
    }

    /// Replays compare hashes read ahead in blocks (PostgresTransaction.storedHash): a replay
    /// longer than one block, a fork in the middle of a block and a replay into a recorded gap
    /// are each decided as record-by-record reads decided them.
    @Test(.enabled(if: Backend.all.contains(.postgres)))
    func replaysReadAheadDecideLikeOneReadPerRecord() throws {
        let store = try PostgresStore(url: try PostgresCluster.shared().createDatabase(), poolSize: 1)
        defer { store.close() }
        let host = SimulatedHost(hostID: "replayed", key: try Ed25519PrivateKey())
        try store.addHost(id: "replayed", publicKey: host.key.publicKey.base64)
        let lines = host.records(1500)
        #expect(try store.appendRelayBatch(Self.batch("replayed", lines))
                == .stored(records: 1500, replayed: 0, incidents: []))
        #expect(try store.appendRelayBatch(Self.batch("replayed", lines)) == .replay(records: 1500))
        #expect(try store.appendRelayBatch(Self.batch("replayed", Array(lines[1100...]))) == .replay(records: 400))

        // Same host_seq, other records from 1050 on: the fork names the first that differs.
        let rewriter = SimulatedHost(hostID: "replayed", key: host.key)
        let rewritten = rewriter.records(1100)
        guard case let .fork(incident) = try store.appendRelayBatch(Self.batch("replayed", Array(lines[..<1049]) + rewritten[1049...])) else {
            Issue.record("a rewritten record at host_seq 1050 was not refused as a fork")
            return
        }
        #expect(incident.detail.hasPrefix("host_seq 1050: stored hash"))

        // Records 1501-1999 lost on the host: accepted with a host_gap; then a late record from the gap is a fork.
        let lost = host.records(499)
        guard case .stored(records: 10, replayed: 0, incidents: let gaps) = try store.appendRelayBatch(Self.batch("replayed", host.records(10))) else {
            Issue.record("the batch after the gap was not stored")
            return
        }
        #expect(gaps.map(\.kind) == [.hostGap] + Array(repeating: .sequenceGap, count: 4))  // and each agent's chain
        guard case let .fork(late) = try store.appendRelayBatch(Self.batch("replayed", Array(lost[99...]))) else {
            Issue.record("a record from a recorded gap was not refused")
            return
        }
        #expect(late.detail.hasPrefix("host_seq 1600 falls in a recorded gap"))
        #expect(try store.host(id: "replayed")?.lastHostSeq == 2009)
        #expect(try store.stats().records == 1510)
    }
}
