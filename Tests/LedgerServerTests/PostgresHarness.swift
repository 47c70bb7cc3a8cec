import Foundation
@testable import LedgerServer

/// Which store a parameterized server test runs against.
enum Backend: String, CustomStringConvertible, Sendable {
    case sqlite, postgres
    var description: String { rawValue }

    /// Both backends where PostgreSQL is installed; SQLite alone (and a loud message) where not.
    static let all: [Backend] = {
        if PostgresCluster.binaries != nil { return [.sqlite, .postgres] }
        let banner = String(repeating: "!", count: 78)
        FileHandle.standardError.write(Data("""
            \(banner)
            !! PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin/initdb): the PostgreSQL
            !! server tests are SKIPPED. Install them with `make test-deps` (apt-get install postgresql).
            \(banner)

            """.utf8))
        return [.sqlite]
    }()
}

/// A throwaway PostgreSQL cluster from the distribution's packages: `initdb` into a temporary
/// directory owned by an unprivileged user (initdb refuses root), `pg_ctl start` on a free
/// loopback port with its socket in that directory. A watchdog process stops the cluster and
/// removes the directory when the test process exits, however it exits (crash and kill -9
/// included); `stop()` does the same at once. Commands run through posix_spawn + waitpid, not
/// Foundation's Process, whose SIGCHLD-based reaping hung under the test runner's signal mask.
final class PostgresCluster: @unchecked Sendable {
    /// The directory holding initdb, pg_ctl and postgres (the highest installed version).
    static let binaries: String? = {
        let root = "/usr/lib/postgresql"
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        return versions.sorted { (Int($0) ?? 0) > (Int($1) ?? 0) }.map { "\(root)/\($0)/bin" }
            .first { FileManager.default.isExecutableFile(atPath: "\($0)/initdb") }
    }()

    /// One cluster shared by every test that only needs a fresh database, started on first use.
    static func shared() throws -> PostgresCluster {
        sharedLock.lock()
        defer { sharedLock.unlock() }
        if let sharedCluster { return sharedCluster }
        let cluster = try PostgresCluster()
        sharedCluster = cluster
        return cluster
    }
    private static let sharedLock = NSLock()
    nonisolated(unsafe) private static var sharedCluster: PostgresCluster?

    let directory: String
    let port: UInt16
    private let lock = NSLock()
    private var databases = 0
    private var watchdog: pid_t = 0

    init() throws {
        guard let bin = Self.binaries else { throw TestFailure("PostgreSQL is not installed") }
        directory = NSTemporaryDirectory() + "ledger-pg-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        port = try ServerProcess.freePort()
        if getuid() == 0 { _ = chown(directory, 65534, 65534) }
        try startWatchdog()
        try Self.run(["\(bin)/initdb", "-D", "\(directory)/data", "-U", "ledger", "--auth=trust", "-E", "UTF8",
                      "--no-sync", "--no-instructions"])
        try start()
    }

    deinit { stop() }

    var url: String { "postgres://ledger@127.0.0.1:\(port)/postgres" }

    func start() throws {
        // max_connections: every server test opens a pool, and tests run in parallel.
        try Self.run(["\(Self.binaries!)/pg_ctl", "-D", "\(directory)/data", "-l", "\(directory)/log", "-w", "-t", "60",
                      "-o", "-p \(port) -k \(directory) -c listen_addresses=127.0.0.1 -c max_connections=400",
                      "start"])
    }

    /// `pg_ctl stop -m fast` (every connection is terminated) and start again.
    func restart() throws {
        try Self.run(["\(Self.binaries!)/pg_ctl", "-D", "\(directory)/data", "-w", "-m", "fast", "stop"])
        try start()
    }

    func stopServer() throws {
        try Self.run(["\(Self.binaries!)/pg_ctl", "-D", "\(directory)/data", "-w", "-m", "fast", "stop"])
    }

    /// A new empty database on this cluster; returns its URL.
    func createDatabase() throws -> String {
        lock.lock()
        databases += 1
        let name = "ledger_test_\(databases)"
        lock.unlock()
        let admin = try PostgresConnection(url: url)
        // The name is generated here, never input: CREATE DATABASE takes no parameters.
        try admin.execute("CREATE DATABASE \(name)")
        return "postgres://ledger@127.0.0.1:\(port)/\(name)"
    }

    /// Stops the cluster (immediate) and removes its directory.
    func stop() {
        lock.lock()
        let dog = watchdog
        watchdog = 0
        lock.unlock()
        guard dog != 0 else { return }
        _ = try? Self.run(["\(Self.binaries!)/pg_ctl", "-D", "\(directory)/data", "-m", "immediate", "-w", "stop"])
        try? FileManager.default.removeItem(atPath: directory)
        kill(dog, SIGKILL)
        var status: Int32 = 0
        waitpid(dog, &status, 0)
    }

    /// `sh` that waits for the test process to go away (exit, crash or kill -9; a zombie counts
    /// as gone), then stops the postmaster and removes the directory.
    private func startWatchdog() throws {
        let stopCommand = Self.asUnprivileged(["\(Self.binaries!)/pg_ctl", "-D", "\(directory)/data", "-m",
                                               "immediate", "-w", "stop"]).map { "'\($0)'" }.joined(separator: " ")
        let script = """
            while [ -r /proc/\(getpid())/stat ] && [ "$(cut -d' ' -f3 /proc/\(getpid())/stat)" != Z ]; do sleep 1; done
            \(stopCommand) >/dev/null 2>&1
            rm -rf '\(directory)'
            """
        watchdog = try Self.spawn(["/bin/sh", "-c", script], output: "/dev/null")
    }

    private static func asUnprivileged(_ command: [String]) -> [String] {
        getuid() == 0 ? ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] + command : command
    }

    /// posix_spawn with every signal unblocked and default (the test runner's threads block some,
    /// and Foundation's Process reaps through SIGCHLD), stdout and stderr to `output`.
    private static func spawn(_ command: [String], output: String) throws -> pid_t {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var pid: pid_t = 0
        // SAFETY: argv/envp are NUL-terminated arrays of strdup'ed strings, freed after the call.
        let argv = command.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let rc = posix_spawn(&pid, command[0], &actions, &attributes, argv, environ)
        guard rc == 0 else { throw TestFailure("posix_spawn \(command[0]): \(rc)") }
        return pid
    }

    private static func run(_ command: [String]) throws {
        let log = NSTemporaryDirectory() + "ledger-pg-cmd-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: log) }
        // From "/": the unprivileged user may not be allowed into the test's working directory.
        let pid = try spawn(["/bin/sh", "-c", "cd / && exec \"$@\"", "sh"] + asUnprivileged(command), output: log)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        guard status == 0 else {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            throw TestFailure("\(command.joined(separator: " ")) failed (\(status)): \(text)")
        }
    }
}
