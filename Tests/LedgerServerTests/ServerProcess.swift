import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import LedgerCore
@testable import LedgerServer
import Testing

/// The real `ledger-server` binary (next to the test bundle) on a free loopback port,
/// with its own data directory, removed afterwards. With `.postgres` it stores into a fresh
/// database on the shared throwaway cluster (PostgresHarness), or into `database` when given
/// (several servers on one database).
final class ServerProcess {
    let dataDir: String
    /// `--database` passed to the server and its CLI; empty for SQLite.
    let database: String
    let port: UInt16
    let process = Process()
    let stderr = Pipe()
    var baseURL: String { "http://127.0.0.1:\(port)" }

    static var binaryDirectory: URL {
        for bundle in Bundle.allBundles where bundle.bundlePath.hasSuffix(".xctest") {
            let candidate = bundle.bundleURL.deletingLastPathComponent()
            if FileManager.default.fileExists(atPath: candidate.appendingPathComponent("ledger-server").path) {
                return candidate
            }
        }
        return URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent(".build/debug")
    }

    init(backend: Backend = .sqlite, database: String? = nil, extraArguments: [String] = [],
         hostID: String = "test:server") throws {
        dataDir = NSTemporaryDirectory() + "ledger-server-test-" + UUID().uuidString
        if let database {
            self.database = database
        } else if backend == .postgres {
            self.database = try PostgresCluster.shared().createDatabase()
        } else {
            self.database = ""
        }
        // Tests keep files here (exports); with PostgreSQL the server itself creates nothing in it.
        try FileManager.default.createDirectory(atPath: dataDir, withIntermediateDirectories: true)
        port = try ServerProcess.freePort()
        process.executableURL = ServerProcess.binaryDirectory.appendingPathComponent("ledger-server")
        process.arguments = ["serve", "--data-dir", dataDir, "--listen", "127.0.0.1:\(port)", "--host-id", hostID,
                             "--config", "/dev/null"] + databaseArguments + extraArguments
        process.standardError = stderr
        try process.run()
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            if let response = try? get("/healthz"), response.status == 200 { return }
            if !process.isRunning { throw TestFailure("server exited with \(process.terminationStatus)") }
            usleep(50_000)
        }
        throw TestFailure("server did not become healthy")
    }

    deinit {
        if process.isRunning {
            process.terminate()
            _ = waitForExit()
        }
        try? FileManager.default.removeItem(atPath: dataDir)
    }

    /// Waits for the server to exit and returns its status, never for ever: Foundation's
    /// `waitUntilExit` learns of the exit through SIGCHLD-based reaping, which has missed one
    /// under the test runner (a test then hung in deinit on a server long gone; see also
    /// PostgresHarness.swift). Past `seconds` the child is killed and reaped here; -1 when
    /// its status cannot be known any more, which fails a test that checks it.
    private func waitForExit(seconds: Double = 30) -> Int32 {
        let deadline = Date(timeIntervalSinceNow: seconds)
        while process.isRunning && Date() < deadline { usleep(5_000) }
        if !process.isRunning { return process.terminationStatus }
        let pid = process.processIdentifier
        kill(pid, SIGKILL)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { return -1 }
        }
        return (status & 0x7f) == 0 ? (status >> 8) & 0xff : -1
    }

    private var databaseArguments: [String] { database.isEmpty ? [] : ["--database", database] }

    /// SIGKILL and wait: no shutdown of any kind.
    func kill9() {
        kill(process.processIdentifier, SIGKILL)
        _ = waitForExit()
    }

    /// SIGTERM and wait; returns the exit status.
    func stop() -> Int32 {
        process.terminate()
        return waitForExit()
    }

    /// Runs `ledger-server ARGS --data-dir <this server's>`; returns (status, stdout).
    func cli(_ arguments: [String]) throws -> (Int32, String) {
        let cli = Process()
        cli.executableURL = process.executableURL
        cli.arguments = arguments + ["--data-dir", dataDir, "--config", "/dev/null"] + databaseArguments
        let out = Pipe()
        cli.standardOutput = out
        cli.standardError = Pipe()
        try cli.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        cli.waitUntilExit()
        return (cli.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    func createKey(_ name: String, scopes: String) throws -> String {
        let (status, output) = try cli(["keys", "create", "--name", name, "--scopes", scopes])
        guard status == 0 else { throw TestFailure("keys create failed") }
        return output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Enrolls a simulated host through the CLI (on the running server's database).
    func enroll(_ host: SimulatedHost) throws {
        let (status, _) = try cli(["hosts", "add", host.hostID, host.key.publicKey.base64])
        guard status == 0 else { throw TestFailure("hosts add failed") }
    }

    static func freePort() throws -> UInt16 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Bool in
                bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard bound else { throw TestFailure("no free port") }
        return UInt16(bigEndian: address.sin_port)
    }

    // MARK: HTTP

    struct Response {
        var status: Int
        var body: [UInt8]
        var headers: [String: String] = [:]
        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] ?? [:] }
        var array: [[String: Any]] { (try? JSONSerialization.jsonObject(with: Data(body))) as? [[String: Any]] ?? [] }
        var error: [String: Any] { json["error"] as? [String: Any] ?? [:] }
        var text: String { String(decoding: body, as: UTF8.self) }
    }

    func get(_ path: String, key: String? = nil) throws -> Response {
        try request("GET", path, key: key)
    }

    func post(_ path: String, key: String? = nil, json: String) throws -> Response {
        try request("POST", path, key: key, headers: ["Content-Type": "application/json"], body: Array(json.utf8))
    }

    func postBatch(_ batch: EncodedRelayBatch, override: [String: String] = [:], body: [UInt8]? = nil) throws -> Response {
        var headers: [String: String] = [:]
        for (name, value) in batch.headers { headers[name] = value }
        for (name, value) in override { headers[name] = value }
        return try request("POST", "/v1/relay/batches", headers: headers, body: body ?? batch.compressedBody)
    }

    func request(_ method: String, _ path: String, key: String? = nil, headers: [String: String] = [:],
                 body: [UInt8]? = nil) throws -> Response {
        var request = URLRequest(url: URL(string: baseURL + path)!)
        request.httpMethod = method
        request.timeoutInterval = 60
        if let key { request.setValue(key, forHTTPHeaderField: "X-API-Key") }
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        if let body { request.httpBody = Data(body) }
        let box = ResultBox()
        URLSession.shared.dataTask(with: request) { data, response, error in
            if let http = response as? HTTPURLResponse {
                var headers: [String: String] = [:]
                for (name, value) in http.allHeaderFields {
                    if let name = name as? String, let value = value as? String { headers[name.lowercased()] = value }
                }
                box.result = .success(Response(status: http.statusCode, body: Array(data ?? Data()), headers: headers))
            } else {
                box.result = .failure(error ?? TestFailure("no response"))
            }
            box.done.signal()
        }.resume()
        box.done.wait()
        return try box.result.get()
    }

    final class ResultBox: @unchecked Sendable {
        var result: Result<Response, Error> = .failure(TestFailure("no answer"))
        let done = DispatchSemaphore(value: 0)
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
