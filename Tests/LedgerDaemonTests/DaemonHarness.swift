// Starts the real `ledgerd` binary (built next to the test bundle by `swift build`)
// on a temporary socket and data directory, and talks to it over real sockets.

import Foundation
import Glibc
import LedgerCore
import LedgerJournal
import LedgerPosix

struct HarnessError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

final class DaemonHarness {
    let dir: String
    var socket: String { dir + "/s" }
    var dataDir: String { dir + "/data" }
    var logPath: String { dir + "/ledgerd.log" }
    let arguments: [String]
    private(set) var pid: pid_t = 0

    /// The ledgerd binary: next to the test bundle (.build/debug/ledgerd).
    static var ledgerdPath: String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        var path = n > 0 ? String(cString: buffer) : Bundle.main.bundlePath
        while !path.isEmpty {
            path = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)])
            if FileManager.default.isExecutableFile(atPath: path + "/ledgerd") { return path + "/ledgerd" }
        }
        return "ledgerd"
    }

    /// `arguments` go after the harness's own (--socket, --data-dir, --host-id, --config).
    init(_ arguments: [String] = ["--standalone"]) throws {
        // Short base: socket paths are limited to 107 bytes.
        dir = try FileSystem.makeTemporaryDirectory(prefix: "ldt", base: "/tmp")
        self.arguments = arguments
    }

    deinit {
        if pid > 0 {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
        try? FileSystem.removeTree(dir)
    }

    var baseArguments: [String] {
        ["--socket", socket, "--data-dir", dataDir, "--host-id", "test-host", "--config", "/dev/null"] + arguments
    }

    /// Spawns ledgerd and waits until its socket answers.
    func start(extra: [String] = [], environment: [String: String] = [:]) throws {
        try spawn([Self.ledgerdPath] + baseArguments + extra, environment: environment, listener: nil)
        try waitUntilListening()
    }

    /// Spawns ledgerd as systemd would: `listener` as fd 3, LISTEN_FDS=1, LISTEN_PID=its pid.
    func startActivated(listener: FileDescriptor, extra: [String] = []) throws {
        let script = "LISTEN_PID=$$ LISTEN_FDS=1 exec \"$0\" \"$@\""
        try spawn(["/bin/sh", "-c", script, Self.ledgerdPath] + baseArguments + extra, environment: [:],
                  listener: listener)
    }

    private func spawn(_ argv: [String], environment: [String: String], listener: FileDescriptor?) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 2, logPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        if let listener { posix_spawn_file_actions_adddup2(&actions, listener.rawValue, 3) }
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("LEDGER_") && !$0.key.hasPrefix("LISTEN_") }
        env["LEDGER_LOG_LEVEL"] = "info"
        for (k, v) in environment { env[k] = v }
        let cArgs = argv.map { strdup($0) } + [nil]
        let cEnv = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            cArgs.forEach { free($0) }
            cEnv.forEach { free($0) }
        }
        var child: pid_t = 0
        let rc = posix_spawn(&child, argv[0], &actions, nil, cArgs, cEnv)
        guard rc == 0 else { throw HarnessError("posix_spawn \(argv[0]): \(String(cString: strerror(rc)))") }
        pid = child
    }

    func waitUntilListening(timeout: Double = 20) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let fd = try? UnixSocket.connect(to: socket + ".admin") {
                try? fd.close()
                return
            }
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid {
                pid = 0
                throw HarnessError("ledgerd exited during start-up (status \(status)):\n\(log())")
            }
            usleep(10_000)
        }
        throw HarnessError("ledgerd did not listen within \(timeout) s:\n\(log())")
    }

    /// SIGKILL, and reap.
    func kill9() {
        guard pid > 0 else { return }
        kill(pid, SIGKILL)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        pid = 0
    }

    /// SIGTERM; returns the exit status once the process has exited.
    @discardableResult
    func terminate(timeout: Double = 30) throws -> Int32 {
        guard pid > 0 else { return -1 }
        kill(pid, SIGTERM)
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid {
                pid = 0
                // WIFEXITED / WEXITSTATUS
                return (status & 0x7F) == 0 ? (status >> 8) & 0xFF : -(status & 0x7F)
            }
            usleep(5_000)
        }
        throw HarnessError("ledgerd did not exit within \(timeout) s after SIGTERM")
    }

    func log() -> String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// CPU time (user + system, all threads) ledgerd has used so far, from /proc/PID/stat.
    func cpuSeconds() throws -> Double {
        let stat = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
        // After the command name in parentheses: state is field 3, utime 14, stime 15 (proc(5)).
        guard let close = stat.lastIndex(of: ")") else { throw HarnessError("unexpected /proc/\(pid)/stat: \(stat)") }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else {
            throw HarnessError("unexpected /proc/\(pid)/stat: \(stat)")
        }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// CPU time ledgerd uses during the next `seconds` of wall time.
    func cpuSeconds(over seconds: Double) throws -> Double {
        let before = try cpuSeconds()
        usleep(UInt32(seconds * 1_000_000))
        return try cpuSeconds() - before
    }

    /// The admin socket's status document.
    func status() throws -> [String: Any] {
        let fd = try UnixSocket.connect(to: socket + ".admin")
        let client = Client(fd: fd)
        let text = client.readToEnd()
        guard let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
            throw HarnessError("status is not a JSON object: \(text)")
        }
        return object
    }

    /// A number in the status document, e.g. `("journal", "durable_host_seq")`.
    func statusNumber(_ section: String, _ name: String) throws -> Int {
        guard let value = (try status()[section] as? [String: Any])?[name] as? NSNumber else {
            throw HarnessError("status has no \(section).\(name)")
        }
        return value.intValue
    }

    /// Polls the status document until `condition` holds; false after `timeout` seconds.
    func waitForStatus(timeout: Double = 30, _ condition: (DaemonHarness) throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if try condition(self) { return true }
            usleep(20_000)
        }
        return try condition(self)
    }

    /// Every durable record of the journal, as lines.
    func journalLines() throws -> [[UInt8]] {
        var lines: [[UInt8]] = []
        let reader = JournalReader(dataDirectory: dataDir)
        var after: UInt64 = 0
        while true {
            let last = try reader.read(after: after, limit: 50_000) { _, bytes in
                lines.append(Array(bytes))
                return true
            }
            if last == after { return lines }
            after = last
        }
    }

    /// Verifies the journal as an export; returns the report.
    func verifyJournal(complete: Bool = true) throws -> VerificationReport {
        let verifier = ExportVerifier(completeStream: complete)
        for line in try journalLines() { _ = verifier.consume(line: line) }
        return verifier.finish()
    }
}

/// A blocking client connection with line-oriented helpers.
final class Client {
    let fd: FileDescriptor
    private var pending: [UInt8] = []

    init(fd: FileDescriptor) { self.fd = fd }

    convenience init(_ path: String) throws { self.init(fd: try UnixSocket.connect(to: path)) }

    deinit { try? fd.close() }

    func send(_ text: String) throws { try fd.write(Array(text.utf8)) }
    func send(_ bytes: [UInt8]) throws { try fd.write(bytes) }
    func finishSending() throws { try fd.shutdown(.write) }

    /// Reads one line (without its newline); nil at EOF or after `timeout` seconds.
    func readLine(timeout: Double = 30) -> String? {
        while true {
            if let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: pending[..<newline], as: UTF8.self)
                pending.removeSubrange(...newline)
                return line
            }
            var poller = pollfd(fd: fd.rawValue, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, Int32(timeout * 1000)) > 0 else { return nil }
            var buffer = [UInt8](repeating: 0, count: 65536)
            let n = (try? buffer.withUnsafeMutableBytes { try fd.read(into: $0) }) ?? 0
            if n == 0 { return nil }
            pending.append(contentsOf: buffer[..<n])
        }
    }

    func readLines(_ count: Int, timeout: Double = 30) -> [String] {
        var lines: [String] = []
        while lines.count < count, let line = readLine(timeout: timeout) { lines.append(line) }
        return lines
    }

    func readToEnd(timeout: Double = 30) -> String {
        var lines: [String] = []
        while let line = readLine(timeout: timeout) { lines.append(line) }
        return lines.joined(separator: "\n")
    }
}

/// A response line, parsed.
struct Response {
    let object: [String: Any]
    init(_ line: String) {
        object = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] ?? [:]
    }
    var ok: Bool { object["ok"] as? Bool == true }
    var id: String? { object["id"] as? String }
    var hash: String? { object["hash"] as? String }
    var agentID: String? { object["agent_id"] as? String }
    var sequence: Int? { (object["sequence"] as? NSNumber)?.intValue }
    var line: Int? { (object["line"] as? NSNumber)?.intValue }
    var code: String? { (object["error"] as? [String: Any])?["code"] as? String }
    var field: String? { (object["error"] as? [String: Any])?["field"] as? String }
}

func event(_ agent: String, id: String? = nil, padding: Int = 0) -> String {
    var text = "{\"agent_id\":\"\(agent)\",\"action_type\":\"TOOL_CALL\""
    if let id { text += ",\"id\":\"\(id)\"" }
    if padding > 0 { text += ",\"action_input\":{\"q\":\"\(String(repeating: "x", count: padding))\"}" }
    return text + "}"
}

/// A canonical UUID whose last 12 digits are `n` (for tests that need ids of their own).
func testID(_ n: Int, prefix: String = "0190a1b2-c3d4-7e5f-8a9b") -> String {
    let digits = String(n, radix: 16)
    return prefix + "-" + String(repeating: "0", count: 12 - digits.count) + digits
}
