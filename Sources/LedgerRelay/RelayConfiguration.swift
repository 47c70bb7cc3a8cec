import LedgerPosix

/// Everything ledger-relay is told, after flags > LEDGER_* environment > config file > defaults.
public struct RelayConfiguration: Sendable {
    /// ledgerd's data directory; the relay reads `<dataDirectory>/journal` only.
    public var dataDirectory: String
    /// The server's base URL, `http://` or `https://`, without a trailing path.
    public var serverURL: String
    /// The host's Ed25519 private key file (mode 0600).
    public var keyPath: String
    /// The relay's own directory: cursor, status, enrollment marker.
    public var stateDirectory: String
    /// One-time enrollment token; used only while the state directory holds no enrollment marker.
    public var enrollToken: String?
    /// PEM bundle of the CAs to trust for https (instead of the system store).
    public var caFile: String?
    public var connectTimeoutMillis: Int = 5_000
    /// Nothing moving for this long ends a request (HTTPClient: a stall, not a slow upload).
    public var requestTimeoutMillis: Int = 30_000
    /// A batch is sent when it holds this many records ...
    public var batchRecords: Int = 1_000
    /// ... or, when more records are already waiting (a backlog), up to this many ...
    public var backlogBatchRecords: Int = 10_000
    /// ... or this many uncompressed body bytes ...
    public var batchBytes: Int = 4 << 20
    /// ... or this long after its first record was read.
    public var lingerMillis: Int = 200
    public var backoffInitialMillis: Int = 100
    public var backoffMaxMillis: Int = 30_000
    /// zlib level, 1 (fastest) … 9 (smallest). 5: 5.9x on realistic records for less than half
    /// the CPU of 6 (6.3x); docs/RELAY.md "Compression level" has the measurements.
    public var compressionLevel: Int32 = 5
    /// Threads compressing and signing batches (zlib is most of the relay's CPU).
    public var sealThreads: Int = 2
    /// Sealed batches waiting behind those in flight (compression runs ahead of the network).
    public var preparedBatches: Int = 4
    /// Batches in flight at once, one keep-alive connection each. The server applies them in
    /// host_seq order (each declares its predecessor), so its verification of the next batches
    /// overlaps the commit of the first; 4 keeps a 2-core server busy (docs/RELAY.md).
    public var inFlight: Int = 4
    /// How often progress is logged while behind, and the status file refreshed.
    public var progressIntervalMillis: Int = 5_000

    public init(dataDirectory: String, serverURL: String, keyPath: String, stateDirectory: String) {
        self.dataDirectory = dataDirectory
        self.serverURL = serverURL
        self.keyPath = keyPath
        self.stateDirectory = stateDirectory
    }

    /// The largest --batch-bytes: ledger-server's default --max-batch-bytes.
    public static let maxBatchBytes = 64 << 20

    /// The cursor file ledgerd reads for retention (its --relay-cursor).
    public var cursorPath: String { stateDirectory + "/cursor" }
    /// The status document `ledgerctl status` shows.
    public var statusPath: String { stateDirectory + "/" + RelayStatus.fileName }
    /// Present once enrollment succeeded: the token is never sent again.
    public var enrolledMarkerPath: String { stateDirectory + "/enrolled" }

    /// ledger-relay's options; `--help` is generated from them.
    public static let spec = ConfigurationSpec(
        program: "ledger-relay",
        summary: "Forwards ledgerd's durable journal to ledger-server in signed, compressed batches. "
            + "See docs/RELAY.md.",
        options: [
            ConfigOption("config", env: "LEDGER_CONFIG", default: "/etc/ledger/ledger.conf", valueName: "FILE",
                         help: "EnvironmentFile with LEDGER_*=value lines (shared with ledgerd)"),
            ConfigOption("data-dir", env: "LEDGER_DATA_DIR", default: "/var/lib/ledger", valueName: "DIR",
                         help: "ledgerd's data directory (read only)"),
            ConfigOption("server", env: "LEDGER_SERVER", valueName: "URL",
                         help: "ledger-server base URL, http:// or https:// (required)"),
            ConfigOption("key", env: "LEDGER_RELAY_KEY", default: "/etc/ledger/host.key", valueName: "FILE",
                         help: "the host's Ed25519 private key file (mode 0600)"),
            ConfigOption("state-dir", env: "LEDGER_RELAY_STATE_DIR", default: "/var/lib/ledger-relay",
                         valueName: "DIR", help: "cursor and status directory (point ledgerd's --relay-cursor "
                            + "at DIR/cursor)"),
            ConfigOption("enroll-token", env: "LEDGER_ENROLL_TOKEN", valueName: "TOKEN",
                         help: "one-time token: register the host key on first contact, then never sent again"),
            ConfigOption("ca-file", env: "LEDGER_CA_FILE", valueName: "FILE",
                         help: "PEM CA bundle to trust for https (default: the system store)"),
            ConfigOption("connect-timeout", env: "LEDGER_CONNECT_TIMEOUT", kind: .duration, default: "5s",
                         help: "TCP and TLS connect timeout"),
            ConfigOption("request-timeout", env: "LEDGER_REQUEST_TIMEOUT", kind: .duration, default: "30s",
                         help: "longest a request may go with nothing sent or received (the server's commit "
                            + "included); a slow upload that keeps moving is not cut short"),
            ConfigOption("batch-records", env: "LEDGER_BATCH_RECORDS", kind: .int, default: "1000",
                         help: "most records in one batch"),
            ConfigOption("backlog-batch-records", env: "LEDGER_BACKLOG_BATCH_RECORDS", kind: .int, default: "10000",
                         help: "most records in one batch while more are waiting (draining a backlog)"),
            ConfigOption("batch-bytes", env: "LEDGER_BATCH_BYTES", kind: .byteSize, default: "4MiB",
                         help: "most uncompressed bytes in one batch, up to 64MiB (a larger single record goes "
                            + "alone; lowered after a 413, see docs/RELAY.md)"),
            ConfigOption("linger", env: "LEDGER_LINGER", kind: .duration, default: "200ms",
                         help: "how long a batch that is not full waits for more records"),
            ConfigOption("backoff-initial", env: "LEDGER_BACKOFF_INITIAL", kind: .duration, default: "100ms",
                         help: "first retry delay bound (doubles per failure, full jitter)"),
            ConfigOption("backoff-max", env: "LEDGER_BACKOFF_MAX", kind: .duration, default: "30s",
                         help: "cap of the retry delay"),
            ConfigOption("compression-level", env: "LEDGER_COMPRESSION_LEVEL", kind: .int, default: "5",
                         help: "zlib level 1 (fastest) to 9 (smallest)"),
            ConfigOption("seal-threads", env: "LEDGER_SEAL_THREADS", kind: .int, default: "2",
                         help: "threads compressing and signing batches"),
            ConfigOption("prepared-batches", env: "LEDGER_PREPARED_BATCHES", kind: .int, default: "4",
                         help: "compressed, signed batches kept ready behind those in flight"),
            ConfigOption("in-flight", env: "LEDGER_IN_FLIGHT", kind: .int, default: "4",
                         help: "batches in flight at once, one keep-alive connection each (1 to 16)"),
            ConfigOption("progress-interval", env: "LEDGER_PROGRESS_INTERVAL", kind: .duration, default: "5s",
                         help: "how often backlog progress is logged and the status file refreshed (at least "
                            + "100ms)"),
        ],
        configFileOption: "config")

    /// Builds the configuration from parsed options; throws for missing or invalid values.
    public init(_ c: Configuration) throws {
        guard let server = c.string("server"), !server.isEmpty else {
            throw RelayError.configuration("--server URL (or LEDGER_SERVER) is required")
        }
        self.init(dataDirectory: c.string("data-dir") ?? "/var/lib/ledger", serverURL: server,
                  keyPath: c.string("key") ?? "/etc/ledger/host.key",
                  stateDirectory: c.string("state-dir") ?? "/var/lib/ledger-relay")
        enrollToken = c.string("enroll-token").flatMap { $0.isEmpty ? nil : $0 }
        caFile = c.string("ca-file").flatMap { $0.isEmpty ? nil : $0 }
        connectTimeoutMillis = Self.millis(c.duration("connect-timeout")) ?? connectTimeoutMillis
        requestTimeoutMillis = Self.millis(c.duration("request-timeout")) ?? requestTimeoutMillis
        batchRecords = c.int("batch-records") ?? batchRecords
        backlogBatchRecords = c.int("backlog-batch-records") ?? backlogBatchRecords
        batchBytes = c.bytes("batch-bytes") ?? batchBytes
        lingerMillis = Self.millis(c.duration("linger")) ?? lingerMillis
        backoffInitialMillis = Self.millis(c.duration("backoff-initial")) ?? backoffInitialMillis
        backoffMaxMillis = Self.millis(c.duration("backoff-max")) ?? backoffMaxMillis
        compressionLevel = Int32(c.int("compression-level") ?? Int(compressionLevel))
        preparedBatches = c.int("prepared-batches") ?? preparedBatches
        sealThreads = c.int("seal-threads") ?? sealThreads
        inFlight = c.int("in-flight") ?? inFlight
        progressIntervalMillis = Self.millis(c.duration("progress-interval")) ?? progressIntervalMillis
        try validate()
    }

    /// Checks ranges that the option kinds cannot express.
    public func validate() throws {
        let lower = serverURL.lowercased()
        guard lower.hasPrefix("http://") || lower.hasPrefix("https://") else {
            throw RelayError.configuration("--server must be an http:// or https:// URL, not \(serverURL)")
        }
        guard batchRecords >= 1, batchRecords <= 1_000_000 else {
            throw RelayError.configuration("--batch-records must be 1 to 1000000")
        }
        guard backlogBatchRecords >= 1, backlogBatchRecords <= 1_000_000 else {
            throw RelayError.configuration("--backlog-batch-records must be 1 to 1000000")
        }
        guard (1...64).contains(sealThreads) else { throw RelayError.configuration("--seal-threads must be 1 to 64") }
        guard batchBytes >= 1024 else { throw RelayError.configuration("--batch-bytes must be at least 1KiB") }
        // ledger-server refuses a batch that decompresses to more than its --max-batch-bytes
        // (64 MiB by default) with 413: a larger setting would only make the relay cut again.
        guard batchBytes <= Self.maxBatchBytes else {
            throw RelayError.configuration("--batch-bytes must be at most 64MiB (ledger-server's default "
                                           + "--max-batch-bytes; larger batches are refused with 413), not \(batchBytes)")
        }
        guard (1...9).contains(compressionLevel) else {
            throw RelayError.configuration("--compression-level must be 1 to 9")
        }
        guard preparedBatches >= 1, preparedBatches <= 64 else {
            throw RelayError.configuration("--prepared-batches must be 1 to 64")
        }
        guard (1...16).contains(inFlight) else { throw RelayError.configuration("--in-flight must be 1 to 16") }
        guard backoffInitialMillis >= 1, backoffMaxMillis >= backoffInitialMillis else {
            throw RelayError.configuration("--backoff-initial must be at least 1ms and at most --backoff-max")
        }
        guard connectTimeoutMillis >= 1, requestTimeoutMillis >= 1 else {
            throw RelayError.configuration("timeouts must be at least 1ms")
        }
        // The main loop wakes every interval to refresh the status file: 0 made it spin on a core.
        guard progressIntervalMillis >= 100 else {
            throw RelayError.configuration("--progress-interval must be at least 100ms, not \(progressIntervalMillis)ms")
        }
    }

    /// The base URL without trailing slashes, so paths can be appended.
    var baseURL: String {
        var url = serverURL
        while url.hasSuffix("/") { url.removeLast() }
        return url
    }

    static func millis(_ duration: Duration?) -> Int? {
        guard let duration else { return nil }
        let (seconds, attoseconds) = duration.components
        return Int(seconds) * 1_000 + Int(attoseconds / 1_000_000_000_000_000)
    }
}
