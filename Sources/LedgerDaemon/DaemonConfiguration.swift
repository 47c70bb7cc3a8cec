internal import Glibc
import LedgerJournal
import LedgerPosix

/// Everything ledgerd is told, after flags > LEDGER_* environment > EnvironmentFile > defaults.
public struct DaemonConfiguration: Sendable {
    public var socketPath: String
    /// The admin (status) socket; default: the socket path with `.admin` appended.
    public var adminSocketPath: String
    public var socketGroup: String?
    public var socketMode: UInt32 = 0o660
    public var dataDirectory: String
    public var hostID: String
    public var maxLineBytes: Int = 1 << 20
    public var maxDiskBytes: Int64 = 10 << 30
    public var retention = RetentionPolicy()
    public var segmentSize: Int64 = Journal.defaultSegmentSize
    /// Unread responses kept per connection before further ones are dropped.
    public var maxUnreadResponseBytes: Int = 1 << 20
    /// Records whose ids are remembered for retries.
    public var dedupeWindow: Int = 100_000
    /// Bytes sealed but not yet durable before ledgerd stops reading sockets.
    public var maxInFlightBytes: Int = 32 << 20
    /// How long a drain waits for slow readers before closing.
    public var drainTimeoutMillis: Int = 5_000
    /// For tests, not an option: while this file exists the journal thread writes nothing, as
    /// if the disk had stalled, so that a test can keep connections paused (backpressure) for as
    /// long as it observes them. Set from LEDGER_TEST_JOURNAL_HOLD.
    public var journalHoldFile: String?

    public init(socketPath: String, dataDirectory: String, hostID: String) {
        self.socketPath = socketPath
        self.adminSocketPath = socketPath + ".admin"
        self.dataDirectory = dataDirectory
        self.hostID = hostID
    }

    /// ledgerd's options; `--help` is generated from them.
    public static let spec = ConfigurationSpec(
        program: "ledgerd",
        summary: "Ledger host daemon: takes NDJSON records on a Unix socket, chains them per agent "
            + "and journals them durably before answering. See docs/PROTOCOL.md and docs/JOURNAL.md.",
        options: [
            ConfigOption("config", env: "LEDGER_CONFIG", default: "/etc/ledger/ledger.conf", valueName: "FILE",
                         help: "EnvironmentFile with LEDGER_*=value lines"),
            ConfigOption("socket", env: "LEDGER_SOCKET", valueName: "PATH",
                         help: "Unix socket to listen on (default /run/ledger.sock, or $XDG_RUNTIME_DIR/ledger.sock "
                            + "when not root and /run is not writable)"),
            ConfigOption("admin-socket", env: "LEDGER_ADMIN_SOCKET", valueName: "PATH",
                         help: "status socket (default: the socket path + .admin)"),
            ConfigOption("socket-group", env: "LEDGER_SOCKET_GROUP", valueName: "GROUP",
                         help: "group owning the sockets (mode 0660); writers must be in it"),
            ConfigOption("data-dir", env: "LEDGER_DATA_DIR", default: "/var/lib/ledger", valueName: "DIR",
                         help: "journal directory"),
            ConfigOption("host-id", env: "LEDGER_HOST_ID", valueName: "ID", help: "host_id of records (default: hostname)"),
            ConfigOption("max-line", env: "LEDGER_MAX_LINE", kind: .byteSize, default: "1MiB",
                         help: "longest accepted input line"),
            ConfigOption("max-disk", env: "LEDGER_MAX_DISK", kind: .byteSize, default: "10GiB",
                         help: "journal disk cap; when reached new lines get UNAVAILABLE"),
            ConfigOption("retain", env: "LEDGER_RETAIN", kind: .duration, default: "7d",
                         help: "keep forwarded segments at least this long"),
            ConfigOption("standalone", env: "LEDGER_STANDALONE", kind: .flag,
                         help: "no upstream relay: retention by age alone"),
            ConfigOption("relay-cursor", env: "LEDGER_RELAY_CURSOR", default: RelayCursor.defaultPath, valueName: "FILE",
                         help: "ledger-relay's cursor file (its acknowledged host_seq)"),
            ConfigOption("segment-size", env: "LEDGER_SEGMENT_SIZE", kind: .byteSize, default: "64MiB",
                         help: "journal segment rotation size"),
            ConfigOption("dedupe-window", env: "LEDGER_DEDUPE_WINDOW", kind: .int, default: "100000",
                         help: "how many recent record ids are remembered for retries"),
            ConfigOption("max-unread", env: "LEDGER_MAX_UNREAD", kind: .byteSize, default: "1MiB",
                         help: "unread responses per connection before its reading pauses; dropped past it "
                            + "only for a writer that does not read (records are kept)"),
        ],
        configFileOption: "config")

    /// Builds the configuration from parsed options.
    public init(_ c: Configuration) {
        let socket = c.string("socket") ?? Self.defaultSocketPath()
        self.init(socketPath: socket, dataDirectory: c.string("data-dir") ?? "/var/lib/ledger",
                  hostID: c.string("host-id") ?? Self.hostname())
        if let admin = c.string("admin-socket") { adminSocketPath = admin }
        socketGroup = c.string("socket-group")
        maxLineBytes = c.bytes("max-line") ?? maxLineBytes
        maxDiskBytes = Int64(c.bytes("max-disk") ?? Int(maxDiskBytes))
        if let retain = c.duration("retain") {
            let (seconds, atto) = retain.components
            retention.retainMicros = seconds * 1_000_000 + atto / 1_000_000_000_000
        }
        retention.standalone = c.flag("standalone")
        retention.relayCursorPath = c.string("relay-cursor") ?? RelayCursor.defaultPath
        segmentSize = Int64(c.bytes("segment-size") ?? Int(segmentSize))
        dedupeWindow = c.int("dedupe-window") ?? dedupeWindow
        maxUnreadResponseBytes = c.bytes("max-unread") ?? maxUnreadResponseBytes
        journalHoldFile = Environment.get("LEDGER_TEST_JOURNAL_HOLD").flatMap { $0.isEmpty ? nil : $0 }
    }

    /// /run/ledger.sock for root or when /run is writable, else $XDG_RUNTIME_DIR/ledger.sock.
    public static func defaultSocketPath() -> String {
        if getuid() == 0 || access("/run", W_OK) == 0 { return "/run/ledger.sock" }
        if let runtime = Environment.get("XDG_RUNTIME_DIR"), !runtime.isEmpty { return runtime + "/ledger.sock" }
        return "/run/ledger.sock"
    }

    /// The machine's hostname (gethostname).
    public static func hostname() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        let name = String(cString: buffer)
        return name.isEmpty ? "localhost" : name
    }
}
