// One host and one server for an end-to-end test: ledgerd on a Unix socket,
// ledger-server on a loopback port (--no-auth), ledger-relay between them,
// each in its own directory under one temporary root.

import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Glibc
import LedgerCore
import LedgerJournal
import LedgerPosix
@testable import LedgerRelay

final class TestStack {
    let root: String
    /// ledgerd's --host-id; a test may change it before starting ledgerd on a new journal.
    var hostID: String
    let keyPath: String
    let dataDirectory: String
    let stateDirectory: String
    let serverDirectory: String
    let socketPath: String
    let serverPort: UInt16
    var server: Child?
    var daemon: Child?
    var relay: Child?
    private var relayRuns = 0
    private var nextEvent = 0
    private var corpus = EventMaker(seed: 7)

    init(_ name: String) throws {
        root = try FileSystem.makeTemporaryDirectory(prefix: "lr-\(name)")
        hostID = "host-\(name)"
        keyPath = root + "/host.key"
        dataDirectory = root + "/data"
        stateDirectory = root + "/relay"
        serverDirectory = root + "/server"
        socketPath = root + "/d.sock"
        serverPort = freePort()
        try KeyFile.writePrivateKey(Ed25519PrivateKey(), to: keyPath)
    }

    deinit {
        relay?.killHard()
        daemon?.terminate()
        server?.terminate()
        if ProcessInfo.processInfo.environment["LEDGER_KEEP_TEST_DIRS"] == nil { try? FileSystem.removeTree(root) }
    }

    var serverURL: String { "http://127.0.0.1:\(serverPort)" }

    // MARK: Processes

    func startServer() throws {
        server = try Child("ledger-server", ["serve", "--listen", "127.0.0.1:\(serverPort)", "--data-dir",
                                             serverDirectory, "--no-auth", "--host-id", "test-server"],
                           logPath: root + "/server.log")
        try waitUntil("ledger-server answers /healthz", seconds: 20) { (try? get("/healthz").status) == 200 }
    }

    func stopServer() {
        server?.terminate()
        server = nil
    }

    func startDaemon(_ extra: [String] = []) throws {
        daemon = try Child("ledgerd", ["--socket", socketPath, "--data-dir", dataDirectory, "--host-id", hostID,
                                       "--relay-cursor", stateDirectory + "/cursor"] + extra,
                           logPath: root + "/ledgerd.log")
        try waitUntil("ledgerd listens", seconds: 20) {
            guard let fd = try? UnixSocket.connect(to: socketPath) else { return false }
            try? fd.close()
            return true
        }
    }

    /// Registers the host key directly on the server's database.
    func enrollKey() throws {
        let key = try KeyFile.readPrivateKey(at: keyPath)
        let (status, output) = try runTool("ledger-server", ["hosts", "add", hostID, key.publicKey.base64,
                                                             "--data-dir", serverDirectory])
        guard status == 0 else { throw TestFailure.failed("hosts add: \(output)") }
    }

    func enrollmentToken() throws -> String {
        let (status, output) = try runTool("ledger-server", ["hosts", "token", "--data-dir", serverDirectory])
        guard status == 0 else { throw TestFailure.failed("hosts token failed") }
        return output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func revokeHost() throws {
        let (status, output) = try runTool("ledger-server", ["hosts", "revoke", hostID, "--data-dir", serverDirectory])
        guard status == 0 else { throw TestFailure.failed("hosts revoke: \(output)") }
    }

    func startRelay(serverURL url: String? = nil, _ extra: [String] = []) throws {
        relayRuns += 1
        relay = try Child("ledger-relay", ["--data-dir", dataDirectory, "--server", url ?? serverURL, "--key", keyPath,
                                           "--state-dir", stateDirectory, "--linger", "50ms",
                                           "--backoff-initial", "20ms", "--backoff-max", "500ms",
                                           "--progress-interval", "1s", "--request-timeout", "5s"] + extra,
                          logPath: root + "/relay.log")
    }

    // MARK: Writing events

    /// Sends `count` events to ledgerd in chunks and returns how many it accepted.
    @discardableResult
    func send(_ count: Int) throws -> Int {
        let fd = try UnixSocket.connect(to: socketPath)
        defer { try? fd.close() }
        var accepted = 0
        var remaining = count
        var pending: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while remaining > 0 {
            let chunk = min(remaining, 200)
            var payload: [UInt8] = []
            for _ in 0..<chunk {
                payload.append(contentsOf: corpus.event(index: nextEvent))
                payload.append(0x0A)
                nextEvent += 1
            }
            try fd.write(payload)
            var answered = 0
            while answered < chunk {
                let n = try buffer.withUnsafeMutableBytes { try fd.read(into: $0) }
                guard n > 0 else { throw TestFailure.failed("ledgerd closed the connection") }
                pending.append(contentsOf: buffer[..<n])
                while let newline = pending.firstIndex(of: 0x0A) {
                    let line = pending[..<newline]
                    if line.starts(with: Array("{\"ok\":true".utf8)) { accepted += 1 }
                    pending.removeSubrange(...newline)
                    answered += 1
                }
            }
            remaining -= chunk
        }
        return accepted
    }

    // MARK: Observing

    func get(_ path: String) throws -> (status: Int, body: Data) {
        let semaphore = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var result: (Int, Data)?
        nonisolated(unsafe) var failure: Error?
        var request = URLRequest(url: URL(string: serverURL + path)!)
        request.timeoutInterval = 30
        URLSession.shared.dataTask(with: request) { data, response, error in
            if let response = response as? HTTPURLResponse { result = (response.statusCode, data ?? Data()) }
            failure = error
            semaphore.signal()
        }.resume()
        semaphore.wait()
        if let result { return result }
        throw failure ?? TestFailure.failed("no answer for \(path)")
    }

    /// (records, host_seq) the server holds for this host; nil when it does not know the host.
    func serverHolds() throws -> (records: Int, hostSeq: UInt64)? {
        let (status, body) = try get("/v1/hosts")
        guard status == 200, let object = try JSONSerialization.jsonObject(with: body) as? [String: Any],
              let hosts = object["hosts"] as? [[String: Any]],
              let host = hosts.first(where: { $0["host_id"] as? String == hostID }) else { return nil }
        return ((host["records"] as? NSNumber)?.intValue ?? -1, (host["host_seq"] as? NSNumber)?.uint64Value ?? 0)
    }

    func waitForServer(records: Int, seconds: Double = 60) throws {
        try waitUntil("the server holds \(records) records of \(hostID)", seconds: seconds) {
            (try? serverHolds())??.records == records
        }
    }

    var relayStatus: RelayStatus? { RelayStatus.read(stateDirectory: stateDirectory) }
    var cursor: UInt64 { RelayCursor.read(path: stateDirectory + "/cursor")?.ackedHostSeq ?? 0 }

    /// The host_seq values the journal holds, read the way the relay reads them.
    func journalRecordCount() throws -> Int {
        var count = 0
        try JournalReader(dataDirectory: dataDirectory).read(after: 0) { _, _ in
            count += 1
            return true
        }
        return count
    }

    /// The server's own verification, an export checked by `ledgerctl verify --complete`, and
    /// the exact host_seq set 1…expected, each once.
    func verifyServer(expected: Int) throws -> (verified: Int, exportLines: Int) {
        let (status, body) = try get("/v1/verify?host_id=\(hostID)")
        guard status == 200, let report = try JSONSerialization.jsonObject(with: body) as? [String: Any] else {
            throw TestFailure.failed("GET /v1/verify answered \(status)")
        }
        guard report["valid"] as? Bool == true else {
            throw TestFailure.failed("the server says the chains are broken: \(String(decoding: body, as: UTF8.self))")
        }
        let verified = (report["events_verified"] as? NSNumber)?.intValue ?? -1
        let (exportStatus, export) = try get("/v1/export?host_id=\(hostID)")
        guard exportStatus == 200 else { throw TestFailure.failed("GET /v1/export answered \(exportStatus)") }
        let exportPath = root + "/export.ndjson"
        try export.write(to: URL(fileURLWithPath: exportPath))
        let (verifyStatus, verifyOutput) = try runTool("ledgerctl", ["verify", "--complete", exportPath])
        guard verifyStatus == 0 else { throw TestFailure.failed("ledgerctl verify: \(verifyOutput)") }
        var seen = Set<UInt64>()
        var lines = 0
        let reader = RecordReader()
        for line in export.split(separator: 0x0A) {
            lines += 1
            let record = try Array(line).withUnsafeBytes { try reader.read($0) }
            guard seen.insert(record.hostSeq).inserted else {
                throw TestFailure.failed("host_seq \(record.hostSeq) stored twice")
            }
        }
        guard seen == Set((1...UInt64(max(expected, 1))).prefix(expected)) else {
            throw TestFailure.failed("the server holds \(seen.count) host_seq values, expected exactly 1…\(expected)")
        }
        return (verified, lines)
    }
}

/// Agent events of varied shape and size from a fixed seed (tool calls, results, model calls).
struct EventMaker {
    private var generator: SplitMix64
    init(seed: UInt64) { generator = SplitMix64(seed: seed) }

    mutating func next() -> UInt64 { generator.next() }

    mutating func event(index: Int) -> [UInt8] {
        let agent = "agent-\(next() % 5)"
        let tools = ["Bash", "Read", "Edit", "Grep"]
        let tool = tools[Int(next() % 4)]
        let words = Int(next() % 40)
        let note = (0..<words).map { _ in ["build", "file", "ok", "error", "line", "path"][Int(next() % 6)] }
            .joined(separator: " ")
        return Array(("{\"agent_id\":\"\(agent)\",\"session_id\":\"s-\(index / 100)\",\"action_type\":\"TOOL_CALL\","
            + "\"action_name\":\"\(tool)\",\"action_input\":{\"file_path\":\"/src/f\(index % 97).swift\",\"i\":\(index)},"
            + "\"metadata\":{\"note\":\"\(note)\"}}").utf8)
    }
}
