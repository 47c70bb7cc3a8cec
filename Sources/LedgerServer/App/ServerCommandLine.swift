import Foundation
import LedgerCore
import LedgerPosix

/// `ledger-server [serve] | hosts add|list|revoke|token | keys create|list|revoke`.
/// The admin subcommands open the same --data-dir database directly; a running server sees
/// their effect on its next request (keys and hosts are looked up per request).
public enum ServerCommandLine {
    static let spec = ConfigurationSpec(
        program: "ledger-server",
        synopsis: "[serve | migrate | hosts add HOST_ID PUBLIC_KEY | hosts list | hosts revoke HOST_ID | hosts rotate HOST_ID PUBLIC_KEY | hosts token | "
            + "keys create --name N --scopes S | keys list | keys revoke KEY_ID] [options]",
        summary: "Ledger's central server: relay ingest, direct ingest, search, verify and export over HTTP.",
        options: [
            ConfigOption("listen", env: "LEDGER_LISTEN", default: "127.0.0.1:7600", valueName: "ADDR:PORT",
                         help: "IPv4 address and port to listen on"),
            ConfigOption("data-dir", env: "LEDGER_DATA_DIR", default: "/var/lib/ledger-server", valueName: "DIR",
                         help: "directory of the SQLite database (ledger.db)"),
            ConfigOption("database", env: "LEDGER_DATABASE", valueName: "URL",
                         help: "postgres://user@host:port/db: store in PostgreSQL instead of SQLite (docs/OPERATIONS.md)"),
            ConfigOption("database-pool", env: "LEDGER_DATABASE_POOL", kind: .int, default: "8",
                         help: "PostgreSQL connections per server"),
            ConfigOption("host-id", env: "LEDGER_HOST_ID", valueName: "ID",
                         help: "host_id of this server's own chains (direct ingest); default: hostname + \":server\""),
            ConfigOption("no-auth", env: "LEDGER_NO_AUTH", kind: .flag,
                         help: "accept requests without API keys (refused unless --listen is loopback)"),
            ConfigOption("threads", env: "LEDGER_HTTP_THREADS", kind: .int, default: "0",
                         help: "HTTP worker threads; 0 = one thread per connection"),
            ConfigOption("max-connections", env: "LEDGER_MAX_CONNECTIONS", kind: .int, default: "1024",
                         help: "concurrent connections accepted"),
            ConfigOption("max-connections-per-ip", env: "LEDGER_MAX_CONNECTIONS_PER_IP", kind: .int, default: "64",
                         help: "concurrent connections from one IP address, loopback included; 0 = no limit"),
            ConfigOption("connection-timeout", env: "LEDGER_CONNECTION_TIMEOUT", kind: .duration, default: "30s",
                         help: "idle time after which a connection is closed (slow clients)"),
            ConfigOption("max-header-bytes", env: "LEDGER_MAX_HEADER_BYTES", kind: .byteSize, default: "128KiB",
                         help: "per-connection memory for request headers"),
            ConfigOption("max-body", env: "LEDGER_MAX_BODY", kind: .byteSize, default: "16MiB",
                         help: "largest request body accepted (413 beyond, unread)"),
            ConfigOption("max-batch-bytes", env: "LEDGER_MAX_BATCH_BYTES", kind: .byteSize, default: "64MiB",
                         help: "largest decompressed relay batch (413 beyond)"),
            ConfigOption("batch-memory", env: "LEDGER_BATCH_MEMORY", kind: .byteSize, default: "512MiB",
                         help: "decompressed relay batches held at once, all together (503 + Retry-After beyond; "
                            + "at least --max-batch-bytes)"),
            ConfigOption("order-wait", env: "LEDGER_ORDER_WAIT", kind: .duration, default: "10s",
                         help: "how long a relay batch waits for its predecessor to be stored (503 beyond)"),
            ConfigOption("config", env: "LEDGER_SERVER_CONFIG", default: "/etc/ledger/server.conf", valueName: "FILE",
                         help: "KEY=value file of LEDGER_* settings"),
            ConfigOption("name", help: "keys create: the key's name (agent_id for Trenchcoat ingest)"),
            ConfigOption("scopes", default: "read:events", help: "keys create: comma-separated write:events,read:events,admin"),
            ConfigOption("token-ttl", kind: .duration, default: "24h", help: "hosts token: validity of the token"),
        ],
        configFileOption: "config")

    /// Runs the command line; returns the exit status.
    public static func run(_ arguments: [String]) -> Int32 {
        SignalWaiter.ignoreBrokenPipe()
        do {
            let config = try spec.parse(arguments)
            if config.helpRequested {
                print(spec.helpText(), terminator: "")
                return 0
            }
            let words = config.positionals
            switch (words.first, words.dropFirst().first) {
            case (nil, _), ("serve", _): return try serve(config)
            case ("hosts", _), ("keys", _): return try admin(words, config)
            case ("migrate", _): return try migrate(config)
            default: throw ServerError.usage("unknown command \(words.joined(separator: " ")); see --help")
            }
        } catch {
            FileHandle.standardError.write(Data("ledger-server: \(error)\n".utf8))
            return error is ServerError || error is ConfigurationError ? 2 : 1
        }
    }

    static func settings(_ config: Configuration) throws -> LedgerServer.Settings {
        var settings = LedgerServer.Settings()
        let listen = config.string("listen") ?? "127.0.0.1:7600"
        guard let colon = listen.lastIndex(of: ":"), let port = UInt16(listen[listen.index(after: colon)...]) else {
            throw ServerError.usage("--listen must be ADDRESS:PORT, e.g. 127.0.0.1:7600")
        }
        settings.http.host = String(listen[..<colon])
        settings.http.port = port
        settings.http.threads = max(0, config.int("threads") ?? 0)
        settings.http.maxConnections = max(1, config.int("max-connections") ?? 1024)
        settings.http.maxConnectionsPerIP = max(0, config.int("max-connections-per-ip") ?? 64)
        settings.http.connectionTimeoutSeconds = max(1, Int(config.duration("connection-timeout")?.components.seconds ?? 30))
        settings.http.connectionMemoryBytes = config.bytes("max-header-bytes") ?? 128 * 1024
        // Capped at 1 GiB: IngestRows addresses a request's bytes with 32-bit offsets.
        settings.http.maxBodyBytes = min(config.bytes("max-body") ?? 16 << 20, 1 << 30)
        settings.maxBatchBytes = min(config.bytes("max-batch-bytes") ?? 64 << 20, 1 << 30)
        settings.batchMemoryBytes = config.bytes("batch-memory") ?? 512 << 20
        settings.dataDirectory = config.string("data-dir") ?? settings.dataDirectory
        if let hostID = config.string("host-id") { settings.hostID = hostID }
        settings.noAuth = config.flag("no-auth")
        settings.database = config.string("database") ?? ""
        settings.databasePool = max(1, config.int("database-pool") ?? 8)
        if let wait = config.duration("order-wait") {
            let (seconds, attoseconds) = wait.components
            settings.orderWaitMillis = Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000)
        }
        return settings
    }

    /// `migrate`: applies pending PostgreSQL schema migrations (SQLite creates its schema on open).
    static func migrate(_ config: Configuration) throws -> Int32 {
        let url = config.string("database") ?? ""
        guard LedgerServer.isPostgresURL(url) else {
            throw ServerError.usage("migrate needs --database postgres://…; SQLite creates its schema on open")
        }
        // Opening the store migrates (as every server does at start); this reports the result.
        let store = try PostgresStore(url: url, poolSize: 1)
        defer { store.close() }
        print("schema at version \(PostgresSchema.migrations.count)")
        return 0
    }

    static func serve(_ config: Configuration) throws -> Int32 {
        let stopRequested = DispatchSemaphore(value: 0)
        // First, before any thread starts, so every thread inherits the blocked mask.
        let signals = try SignalWaiter([.terminate, .interrupt]) { _ in stopRequested.signal() }
        let server = try LedgerServer(settings: settings(config))
        try server.start()
        stopRequested.wait()
        server.log.info("stopping: finishing requests in flight")
        server.stop()
        signals.stop()
        return 0
    }
}
