import Foundation
import LedgerCore
import LedgerPosix

/// Everything `ledger-server serve` runs, wired together: store, own chains, routes, HTTP.
public final class LedgerServer: @unchecked Sendable {
    public struct Settings: Sendable {
        public var http = HTTPServerOptions()
        public var dataDirectory = "/var/lib/ledger-server"
        public var hostID = LedgerServer.defaultHostID()
        public var noAuth = false
        public var maxBatchBytes = 64 * 1024 * 1024
        /// Decompressed relay batches held at once, all requests together (DecompressionBudget);
        /// never below `maxBatchBytes`, or a batch of the largest size could never be taken.
        public var batchMemoryBytes = 512 * 1024 * 1024
        /// `postgres://…` (or `postgresql://…`) selects PostgresStore; empty: SQLite in `dataDirectory`.
        public var database = ""
        /// Connections per server to PostgreSQL.
        public var databasePool = 8
        /// How long a relay batch may wait for its declared predecessor to be stored (HostOrderGate).
        public var orderWaitMillis = 10_000
        public init() {}
    }

    public let settings: Settings
    public let store: Store
    public let router: Router
    public let metrics = ServerMetrics()
    let log: Logger
    private var http: HTTPServer?

    /// Opens the store and builds the routes (no socket yet: `router.handle` works in-process).
    public init(settings: Settings, log: Logger = Logger(component: "ledger-server")) throws {
        if settings.noAuth, !LedgerServer.isLoopback(settings.http.host) {
            throw ServerError.noAuthOnPublicAddress(settings.http.host)
        }
        self.settings = settings
        self.log = log
        store = try LedgerServer.openStore(settings)
        let metrics = self.metrics
        if let sqlite = store as? SQLiteStore {
            sqlite.onCommit = { jobs, seconds in metrics.commit(jobs: jobs, seconds: seconds) }
        } else if let postgres = store as? PostgresStore {
            postgres.onCommit = { jobs, seconds in metrics.commit(jobs: jobs, seconds: seconds) }
        }
        router = Router(store: store, noAuth: settings.noAuth, metrics: metrics, log: log)
        // Claimed before anything is served: until its row exists as kind `server`, a relay
        // could enroll under this id and write onto the chains this server seals.
        do {
            try store.claimServerHost(id: settings.hostID)
        } catch let StoreError.conflict(why) {
            store.close()
            throw ServerError.hostIDTaken(why)
        }
        let ingestor = try DirectIngestor(hostID: settings.hostID, store: store)
        Routes.install(on: router, store: store, ingestor: ingestor, metrics: metrics, log: log,
                       maxBatchBytes: settings.maxBatchBytes,
                       budget: DecompressionBudget(limit: max(settings.batchMemoryBytes, settings.maxBatchBytes)),
                       orderGate: HostOrderGate(maxWaitMillis: settings.orderWaitMillis))
    }

    /// Starts listening; returns the bound port.
    @discardableResult
    public func start() throws -> UInt16 {
        let server = HTTPServer(options: settings.http) { [router] in router.route($0) }
        server.onRefusedBeforeRoute = { [router] request, status in router.refusedBeforeRoute(request, status: status) }
        try server.start()
        http = server
        log.info("listening", ["address": "\(settings.http.host):\(server.boundPort)", "host_id": settings.hostID,
                               "data_dir": settings.dataDirectory, "auth": settings.noAuth ? "off" : "api-keys"])
        return server.boundPort
    }

    /// Graceful stop: no new connections, requests in flight finish, then the store closes.
    public func stop() {
        http?.stop()
        http = nil
        store.close()
        log.info("stopped")
    }

    /// The store the settings select: PostgreSQL for a postgres:// URL, else SQLite in the data directory.
    public static func openStore(_ settings: Settings, readers: Int? = nil) throws -> Store {
        if isPostgresURL(settings.database) {
            return try PostgresStore(url: settings.database, poolSize: settings.databasePool)
        }
        guard settings.database.isEmpty else {
            throw ServerError.usage("--database must be a postgres://user@host/db URL (or empty for SQLite)")
        }
        return try SQLiteStore(directory: settings.dataDirectory,
                               readers: readers ?? (settings.http.threads > 0 ? settings.http.threads + 1 : 8))
    }

    static func isPostgresURL(_ url: String) -> Bool { url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") }

    public static func defaultHostID() -> String {
        var name = [CChar](repeating: 0, count: 256)
        gethostname(&name, name.count)
        return String(cString: name) + ":server"
    }

    static func isLoopback(_ host: String) -> Bool { host == "127.0.0.1" || host.hasPrefix("127.") || host == "::1" }
}

/// Why the server refuses to start.
public enum ServerError: Error, CustomStringConvertible {
    /// --no-auth was asked for on an address other machines can reach. Listen on 127.0.0.1 or drop --no-auth.
    case noAuthOnPublicAddress(String)
    /// A command-line value is wrong; the message says which.
    case usage(String)
    /// --host-id names an enrolled relay host. Give the server an id of its own (hostname:server).
    case hostIDTaken(String)

    public var description: String {
        switch self {
        case let .noAuthOnPublicAddress(host): "--no-auth is refused on the non-loopback address \(host)"
        case let .usage(message): message
        case let .hostIDTaken(why): "cannot start: \(why)"
        }
    }
}

enum Routes {
    static func install(on router: Router, store: Store, ingestor: DirectIngestor, metrics: ServerMetrics, log: Logger,
                        maxBatchBytes: Int, budget: DecompressionBudget, orderGate: HostOrderGate) {
        router.add("GET", "/healthz", .open, HealthResponder(store: store))
        router.add("GET", "/metrics", .scope(.admin), MetricsResponder(metrics: metrics))
        router.add("POST", "/v1/relay/batches", .routeAuthenticated,
                   RelayBatchResponder(store: store, metrics: metrics, maxBatchBytes: maxBatchBytes,
                                       orderGate: orderGate, budget: budget, log: log))
        router.add("POST", "/v1/relay/enroll", .routeAuthenticated, EnrollmentResponder(store: store, log: log))
        router.add("POST", "/v1/events", .scope(.writeEvents), DirectEventResponder(ingestor: ingestor, metrics: metrics))
        router.add("POST", "/v1/batch", .scope(.writeEvents), DirectBatchResponder(ingestor: ingestor, metrics: metrics))
        router.add("POST", "/api/v1/events", .scope(.writeEvents),
                   TrenchcoatEventsResponder(ingestor: ingestor, metrics: metrics))
        router.add("GET", "/v1/events", .scope(.readEvents), ListEventsResponder(store: store))
        router.add("GET", "/v1/events/{id}", .scope(.readEvents), GetEventResponder(store: store))
        router.add("GET", "/v1/hosts", .scope(.readEvents), HostsResponder(store: store))
        router.add("GET", "/v1/agents", .scope(.readEvents), AgentsResponder(store: store))
        router.add("GET", "/v1/stats", .scope(.readEvents), StatsResponder(store: store))
        router.add("GET", "/v1/verify", .scope(.readEvents), VerifyResponder(store: store))
        router.add("GET", "/v1/export", .scope(.readEvents), ExportResponder(store: store, log: log.withComponent("export")))
    }
}
