import Foundation
import LedgerCore
@testable import LedgerServer
import Testing

/// A GET read by hand on its own TCP connection with a small receive window, so that the
/// server is still producing the body while the test changes the store underneath it.
final class SlowRead {
    let fd: Int32
    private(set) var raw: [UInt8] = []

    init(_ server: ServerProcess, _ path: String, key: String?, timeoutSeconds: Int = 60) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket: errno \(errno)") }
        var window: Int32 = 4096
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &window, socklen_t(MemoryLayout<Int32>.size))
        var limit = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = server.port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { throw TestFailure("connect: errno \(errno)") }
        let auth = key.map { "X-API-Key: \($0)\r\n" } ?? ""
        let head = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n\(auth)Connection: close\r\n\r\n".utf8)
        let sent = head.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        guard sent == head.count else { throw TestFailure("send: errno \(errno)") }
    }

    deinit { close(fd) }

    /// Reads until `count` bytes arrived in all, or the end.
    func read(upTo count: Int) throws {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while raw.count < count {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n == 0 { return }
            if n < 0 {
                if errno == ECONNRESET { return }
                throw TestFailure(errno == EAGAIN ? "no answer in time" : "recv: errno \(errno)")
            }
            raw += buffer[..<n]
        }
    }

    func readToEnd() throws { try read(upTo: Int.max) }

    /// The chunked body decoded, and whether its terminating zero-length chunk arrived.
    var body: (bytes: [UInt8], complete: Bool) {
        guard let headEnd = raw.indices.first(where: { raw[$0...].starts(with: Array("\r\n\r\n".utf8)) }) else {
            return ([], false)
        }
        var at = headEnd + 4
        var out: [UInt8] = []
        while true {
            guard let lineEnd = raw[at...].indices.first(where: { raw[$0...].starts(with: [13, 10]) }),
                  let size = Int(String(decoding: raw[at..<lineEnd], as: UTF8.self), radix: 16) else { return (out, false) }
            if size == 0 { return (out, raw[(lineEnd + 2)...].starts(with: [13, 10])) }
            let start = lineEnd + 2
            guard start + size + 2 <= raw.count else { return (out + raw[start..<min(raw.count, start + size)], false) }
            out += raw[start..<start + size]
            at = start + size + 2
        }
    }
}

@Suite("reads that must never give a wrong answer: export, verify")
struct ReadIntegrityTests {
    /// Enrolls `hostID` and stores `batches` × `size` records of about 2.7 KB each.
    static func fill(_ server: ServerProcess, hostID: String, batches: Int, size: Int, padding: Int = 2000) throws
        -> SimulatedHost {
        let host = SimulatedHost(hostID: hostID, key: try Ed25519PrivateKey())
        try server.enroll(host)
        for _ in 0..<batches {
            let first = host.chains.lastHostSeq + 1
            let batch = try RelayBatch.encode(lines: host.records(size, padding: padding), hostID: hostID,
                                              batchSeq: first, key: host.key)
            let response = try server.postBatch(batch)
            guard response.status == 200 else { throw TestFailure("batch: \(response.status) \(response.text)") }
        }
        return host
    }

    /// PostgreSQL stopped while an export is being sent: the transfer must break (no chunked
    /// terminator), never end cleanly with the tail missing.
    @Test(.enabled(if: Backend.all.contains(.postgres)))
    func exportBreaksWhenTheDatabaseGoesAwayMidway() throws {
        let cluster = try PostgresCluster()
        defer { cluster.stop() }
        let server = try ServerProcess(database: try cluster.createDatabase())
        let key = try server.createKey("r", scopes: "read:events")
        _ = try Self.fill(server, hostID: "cut", batches: 6, size: 1000)
        let export = try SlowRead(server, "/v1/export", key: key)
        try export.read(upTo: 64 << 10)
        try cluster.stopServer()
        try export.readToEnd()
        let (body, complete) = export.body
        let lines = body.filter { $0 == 0x0A }.count
        #expect(lines < 6000, "the test must stop the database before the export is complete")
        #expect(!complete, "an export cut by a failed read ended like a complete one (\(lines) lines)")
    }
}

/// What a test does to a server's database behind its back (an attacker with file or SQL access).
extension ServerProcess {
    func tamper(_ sql: String) throws {
        if database.isEmpty {
            let db = try SQLiteConnection(path: dataDir + "/ledger.db")
            try db.execute(sql)
        } else {
            let db = try PostgresConnection(url: database)
            try db.execute(sql)
        }
    }

    /// SQL that deletes the stored record of `agent` with `sequence` on either backend.
    func deleteRecord(host: String, agent: String, sequence: Int) -> String {
        database.isEmpty
            ? "DELETE FROM records WHERE host_id = '\(host)' AND agent_id = '\(agent)' AND sequence = \(sequence)"
            : "DELETE FROM records WHERE host_key = (SELECT key FROM hosts WHERE host_id = '\(host)') "
                + "AND agent_key = (SELECT key FROM agents WHERE agent_id = '\(agent)') AND sequence = \(sequence)"
    }
}

@Suite("verify notices records deleted from the store")
struct VerifyCompletenessTests {
    static func failure(_ server: ServerProcess, _ path: String, key: String) throws -> [String: Any]? {
        let answer = try server.get(path, key: key)
        guard answer.status == 200 else { throw TestFailure("\(path): \(answer.status) \(answer.text)") }
        return answer.json["valid"] as? Bool == true ? nil : answer.json["first_failure"] as? [String: Any] ?? [:]
    }

    @Test(arguments: Backend.all) func theLastDirectEventDeletedMakesVerifyInvalid(backend: Backend) throws {
        let server = try ServerProcess(backend: backend, hostID: "direct:server")
        let key = try server.createKey("rw", scopes: "write:events,read:events")
        for _ in 0..<5 { #expect(try server.post("/v1/events", key: key, json: #"{"agent_id":"a"}"#).status == 201) }
        #expect(try Self.failure(server, "/v1/verify", key: key) == nil)
        try server.tamper(server.deleteRecord(host: "direct:server", agent: "a", sequence: 5))
        for path in ["/v1/verify", "/v1/verify?host_id=direct:server", "/v1/verify?agent_id=a",
                     "/v1/verify?host_id=direct:server&agent_id=a"] {
            let failure = try Self.failure(server, path, key: key)
            #expect(failure?["reason"] as? String == "missing_records", "\(path): \(failure ?? [:])")
            #expect(failure?["host_id"] as? String == "direct:server", "\(path)")
        }
        let chain = try Self.failure(server, "/v1/verify?agent_id=a", key: key)
        #expect(chain?["agent_id"] as? String == "a")
        #expect(chain?["sequence"] as? Int == 5)
    }

    @Test(arguments: Backend.all) func aChainTailDeletedInsideAHostStreamIsNamed(backend: Backend) throws {
        let server = try ServerProcess(backend: backend)
        let key = try server.createKey("r", scopes: "read:events")
        let host = SimulatedHost(hostID: "tail", key: try Ed25519PrivateKey())
        try server.enroll(host)
        // Round robin over four agents: agent-3's last record is host_seq 39, followed by agent-0's 40.
        #expect(try server.postBatch(try host.nextBatch(40)).status == 200)
        #expect(try Self.failure(server, "/v1/verify?host_id=tail", key: key) == nil)
        try server.tamper(server.deleteRecord(host: "tail", agent: "agent-3", sequence: 10))
        let failure = try Self.failure(server, "/v1/verify", key: key)
        #expect(failure?["reason"] as? String == "missing_records")
        #expect(failure?["host_id"] as? String == "tail")
        let chain = try Self.failure(server, "/v1/verify?agent_id=agent-3", key: key)
        #expect(chain?["reason"] as? String == "missing_records")
        #expect(chain?["sequence"] as? Int == 10)
        #expect(try Self.failure(server, "/v1/verify?agent_id=agent-1", key: key) == nil)
    }

    @Test(arguments: Backend.all) func aGapTheStoreRecordedAsAnIncidentStaysValid(backend: Backend) throws {
        let server = try ServerProcess(backend: backend)
        let key = try server.createKey("r", scopes: "read:events")
        let host = SimulatedHost(hostID: "lossy", key: try Ed25519PrivateKey())
        try server.enroll(host)
        func send(_ agent: String) throws -> EncodedRelayBatch {
            let first = host.chains.lastHostSeq + 1
            return try RelayBatch.encode(lines: host.records(10, agents: 1, agentJSON: { _ in agent }),
                                         hostID: "lossy", batchSeq: first, key: host.key)
        }
        #expect(try server.postBatch(try send("a")).status == 200)
        _ = try send("lost")  // host_seq 11…20 never reach the server: agent "lost" leaves no trace
        #expect(try server.postBatch(try send("c")).status == 200)
        let answer = try server.get("/v1/verify?host_id=lossy", key: key).json
        #expect(answer["valid"] as? Bool == true, "\(answer)")
        #expect((answer["incidents"] as? [[String: Any]])?.first?["kind"] as? String == "host_gap")
        try server.tamper(server.deleteRecord(host: "lossy", agent: "c", sequence: 1))
        let failure = try Self.failure(server, "/v1/verify", key: key)
        #expect(failure?["reason"] as? String == "missing_records", "\(failure ?? [:])")
    }
}

@Suite("PostgreSQL: exports and verify while several hosts commit at once", .serialized)
struct ConsistentReadTests {
    /// Positions are taken at insert and several pool connections commit in any order, so an
    /// export paging by position on fresh snapshots stepped over records that committed late.
    /// Every export must hold, for each host, a gap-free prefix of its stream; every verify must
    /// be valid.
    @Test(.enabled(if: Backend.all.contains(.postgres)))
    func exportsAndVerifiesDuringConcurrentIngestSeeEveryHostAsAPrefix() throws {
        let server = try ServerProcess(backend: .postgres, extraArguments: ["--database-pool", "8"])
        let key = try server.createKey("r", scopes: "read:events")
        let hosts = try (0..<4).map { SimulatedHost(hostID: "busy-\($0)", key: try Ed25519PrivateKey()) }
        for host in hosts { try server.enroll(host) }
        let plans = try hosts.map { host in try (0..<200).map { _ in try host.nextBatch(20) } }
        let stop = ManagedFlag()
        let group = DispatchGroup()
        for plan in plans {
            DispatchQueue.global().async(group: group) {
                for batch in plan where !stop.isSet { _ = try? server.postBatch(batch) }
            }
        }
        var problems: [String] = []
        var exports = 0, verifies = 0
        let deadline = Date().addingTimeInterval(25)
        while Date() < deadline && problems.isEmpty {
            let export = try server.get("/v1/export", key: key)
            exports += 1
            var last: [String: Int] = [:]
            for line in export.body.split(separator: 0x0A) {
                guard let record = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any],
                      let host = record["host_id"] as? String, let seq = record["host_seq"] as? Int else { continue }
                if seq != (last[host] ?? 0) + 1 { problems.append("export \(exports): \(host) host_seq \(seq) after \(last[host] ?? 0)") }
                last[host] = seq
            }
            let verify = try server.get("/v1/verify", key: key).json
            verifies += 1
            if verify["valid"] as? Bool != true { problems.append("verify \(verifies): \(verify["first_failure"] ?? "")") }
            if group.wait(timeout: .now()) == .success { break }
        }
        stop.set()
        group.wait()
        #expect(problems.isEmpty, "\(problems.prefix(5))")
        #expect(exports >= 2, "too few exports ran during the ingest to show anything")
        let final = try server.get("/v1/verify", key: key).json
        #expect(final["valid"] as? Bool == true)
    }
}

extension ConsistentReadTests {
    /// The race made deterministic: host A's batch has its positions but cannot commit (the test
    /// holds A's chain rows), host B commits above it, the export reads its first page, then A's
    /// batch and A's next one commit. Paging on fresh snapshots, the export skipped A's batch and
    /// showed A's next one: a hole in A's stream although nothing is missing.
    @Test(.enabled(if: Backend.all.contains(.postgres)))
    func anExportIsOneCutEvenWhenALowerPositionCommitsLate() throws {
        let server = try ServerProcess(backend: .postgres)
        let key = try server.createKey("r", scopes: "read:events")
        let a = SimulatedHost(hostID: "late", key: try Ed25519PrivateKey())
        let b = SimulatedHost(hostID: "early", key: try Ed25519PrivateKey())
        try server.enroll(a)
        try server.enroll(b)
        #expect(try server.postBatch(try a.nextBatch(10)).status == 200)
        let blocker = try PostgresConnection(url: server.database)
        try blocker.execute("BEGIN")
        try blocker.query("SELECT 1 FROM chains WHERE host_id = 'late' FOR UPDATE")
        let second = try a.nextBatch(10)
        let third = try a.nextBatch(10)
        let stored = DispatchSemaphore(value: 0)
        DispatchQueue.global().async { _ = try? server.postBatch(second); stored.signal() }
        var waiting = 0
        for _ in 0..<200 where waiting == 0 {
            usleep(50_000)
            waiting = Int(try blocker.query("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
                .int(0, 0))
        }
        #expect(waiting == 1, "host late's batch never got to wait behind the held chain rows")
        for _ in 0..<3 {
            let first = b.chains.lastHostSeq + 1
            let batch = try RelayBatch.encode(lines: b.records(500, padding: 4000), hostID: "early", batchSeq: first,
                                              key: b.key)
            #expect(try server.postBatch(batch).status == 200)
        }
        let export = try SlowRead(server, "/v1/export", key: key)
        try export.read(upTo: 16 << 10)
        try blocker.execute("ROLLBACK")
        stored.wait()
        #expect(try server.postBatch(third).status == 200)
        try export.readToEnd()
        let (body, complete) = export.body
        #expect(complete)
        var last: [String: Int] = [:]
        var holes: [String] = []
        for line in body.split(separator: 0x0A) {
            guard let record = try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any],
                  let host = record["host_id"] as? String, let seq = record["host_seq"] as? Int else { continue }
            if seq != (last[host] ?? 0) + 1 { holes.append("\(host): host_seq \(seq) after \(last[host] ?? 0)") }
            last[host] = seq
        }
        #expect(holes.isEmpty, "\(holes)")
        #expect(last["early"] == 1500)
    }
}

final class ManagedFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
    func set() { lock.lock(); value = true; lock.unlock() }
}

@Suite("label filters are capped, prepared statements bounded")
struct QueryCostTests {
    @Test(arguments: Backend.all) func seventeenLabelFiltersAreRefusedNamingTheParameter(backend: Backend) throws {
        let server = try ServerProcess(backend: backend)
        let key = try server.createKey("r", scopes: "read:events")
        let sixteen = (0..<16).map { "label.k\($0)=v" }.joined(separator: "&")
        #expect(try server.get("/v1/events?" + sixteen, key: key).status == 200)
        for route in ["/v1/events", "/v1/export"] {
            let refused = try server.get(route + "?" + sixteen + "&label.k16=v", key: key)
            #expect(refused.status == 400, "\(route)")
            #expect(refused.error["field"] as? String == "label.k16", "\(route): \(refused.text)")
        }
    }

    @Test func sqliteKeepsABoundedNumberOfPreparedStatements() throws {
        let directory = NSTemporaryDirectory() + "ledger-cache-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let db = try SQLiteConnection(path: directory + "/c.db")
        let held = try db.statement("SELECT 'held'")
        for n in 0..<500 { _ = try db.statement("SELECT \(n)").step() }
        #expect(db.cachedStatements <= SQLiteConnection.cacheCapacity)
        #expect(try held.step() && held.string(0) == "held", "an evicted statement still in use keeps working")
    }

    @Test(.enabled(if: Backend.all.contains(.postgres)))
    func postgresKeepsABoundedNumberOfPreparedStatements() throws {
        let db = try PostgresConnection(url: try PostgresCluster.shared().createDatabase())
        for n in 0..<500 { try db.query("SELECT \(n)::int8") }
        #expect(db.cachedStatements <= PostgresConnection.cacheCapacity)
        let backend = try db.query("SELECT count(*) FROM pg_prepared_statements").int(0, 0)
        #expect(backend <= Int64(PostgresConnection.cacheCapacity) + 1, "\(backend) statements prepared in the backend")
        try db.execute("BEGIN")
        for n in 0..<5 { try db.query("SELECT \(n + 1000)::int8") }
        try db.execute("COMMIT")
        #expect(try db.query("SELECT 7::int8").int(0, 0) == 7)
    }
}

@Suite("a label search survives any stored record")
struct LabelSearchTests {
    /// PostgreSQL's jsonb refuses \u0000 anywhere in a text: one such record made every label
    /// search that reached it a 500.
    @Test(arguments: Backend.all) func aRecordWithANulEscapeDoesNotBreakLabelSearches(backend: Backend) throws {
        let server = try ServerProcess(backend: backend)
        let key = try server.createKey("rw", scopes: "write:events,read:events")
        let stored = try server.post("/v1/events", key: key,
                                     json: #"{"agent_id":"z","action_output":"a\u0000b","labels":{"env":"x"}}"#)
        #expect(stored.status == 201, "\(stored.text)")
        #expect(try server.post("/v1/events", key: key, json: #"{"agent_id":"z","labels":{"env":"y"}}"#).status == 201)
        let match = try server.get("/v1/events?label.env=x", key: key)
        #expect(match.status == 200, "\(match.text)")
        #expect((match.json["events"] as? [[String: Any]])?.count == 1)
        let other = try server.get("/v1/events?label.env=y", key: key)
        #expect(other.status == 200, "\(other.text)")
        #expect((other.json["events"] as? [[String: Any]])?.count == 1)
        // A backslash followed by "u0000" is text, not the escape: it must still match itself.
        #expect(try server.post("/v1/events", key: key, json: #"{"agent_id":"z","labels":{"env":"\\u0000"}}"#).status == 201)
        let literal = try server.get("/v1/events?label.env=%5Cu0000", key: key)
        #expect(literal.status == 200, "\(literal.text)")
        #expect((literal.json["events"] as? [[String: Any]])?.count == 1)
    }
}

@Suite("health and authentication are not queued behind heavy reads")
struct ControlPathTests {
    /// With a pool of one connection held by an export (its snapshot), /healthz and an
    /// authenticated request that needs nothing else must still answer at once.
    @Test(.enabled(if: Backend.all.contains(.postgres)))
    func healthzAndKeyLookupsAnswerWhileTheWholePoolIsBusy() throws {
        let server = try ServerProcess(backend: .postgres, extraArguments: ["--database-pool", "1"])
        let reader = try server.createKey("r", scopes: "read:events")
        let admin = try server.createKey("a", scopes: "admin")
        _ = try ReadIntegrityTests.fill(server, hostID: "big", batches: 4, size: 1000)
        let export = try SlowRead(server, "/v1/export", key: reader)
        try export.read(upTo: 16 << 10)
        for (path, key) in [("/healthz", nil), ("/metrics", admin)] {
            let quick = try SlowRead(server, path, key: key, timeoutSeconds: 5)
            try quick.readToEnd()
            let status = String(decoding: quick.raw.prefix(12), as: UTF8.self)
            #expect(status == "HTTP/1.1 200", "\(path): \(status)")
        }
        try export.readToEnd()
        #expect(export.body.complete)
    }
}

@Suite("read routes refuse parameters they do not take")
struct ReadParameterTests {
    @Test(arguments: Backend.all) func aTypoIsA400NamingTheParameter(backend: Backend) throws {
        let server = try ServerProcess(backend: backend)
        let key = try server.createKey("r", scopes: "read:events")
        for path in ["/v1/verify?host=web-1", "/v1/agents?host=web-1", "/v1/hosts?host=web-1", "/v1/stats?host=web-1",
                     "/v1/events/0190a3d2-0000-7000-8000-000000000000?host=web-1"] {
            let refused = try server.get(path, key: key)
            #expect(refused.status == 400, "\(path): \(refused.status)")
            #expect(refused.error["field"] as? String == "host", "\(path): \(refused.text)")
        }
        let twice = try server.get("/v1/verify?host_id=a&host_id=b", key: key)
        #expect(twice.status == 400)
        #expect(twice.error["field"] as? String == "host_id")
        #expect(try server.get("/v1/agents?host_id=a", key: key).status == 200)
    }

    /// Verifying a host or agent that is not stored must not answer "valid, 0 verified".
    @Test(arguments: Backend.all) func verifyingWhatIsNotStoredIsA404NamingTheParameter(backend: Backend) throws {
        let server = try ServerProcess(backend: backend)
        let key = try server.createKey("rw", scopes: "read:events,write:events")
        #expect(try server.post("/v1/events", key: key, json: #"{"agent_id":"a"}"#).status == 201)
        let host = "test:server"
        for (path, field) in [("/v1/verify?host_id=", "host_id"), ("/v1/verify?host_id=web-1", "host_id"),
                              ("/v1/verify?agent_id=b", "agent_id"), ("/v1/verify?host_id=\(host)&agent_id=b", "agent_id"),
                              ("/v1/verify?agent_id=", "agent_id")] {
            let answer = try server.get(path, key: key)
            #expect(answer.status == 404, "\(path): \(answer.status) \(answer.text)")
            #expect(answer.error["field"] as? String == field, "\(path): \(answer.text)")
        }
        for path in ["/v1/verify?host_id=\(host)", "/v1/verify?agent_id=a", "/v1/verify?host_id=\(host)&agent_id=a"] {
            let answer = try server.get(path, key: key)
            #expect(answer.status == 200, "\(path): \(answer.text)")
            #expect(answer.json["valid"] as? Bool == true && answer.json["events_verified"] as? Int == 1, "\(path)")
        }
    }
}
