/// Why ledger-relay cannot start or must stop forwarding. Transient trouble (network
/// errors, timeouts, 429, 5xx) is never an error here: the uploader retries it forever.
public enum RelayError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A setting is missing or invalid (the message names it). Fix the flag, the
    /// LEDGER_* variable or the config file line, then start again.
    case configuration(String)
    /// The host key file could not be read or is not a private Ed25519 key file.
    /// Point --key at the file `ledgerctl keygen` wrote (mode 0600), or restore it.
    case key(path: String, reason: String)
    /// The journal's segments disagree about host_id, or the host_id cannot be used in a
    /// batch header. Check that --data-dir is ledgerd's data directory.
    case journal(String)
    /// The state directory (cursor, status) cannot be written. Give the relay's user write
    /// access to --state-dir; nothing was forwarded past the last cursor.
    case state(path: String, reason: String)
    /// The cursor was not written for this journal (another host_id, none, or a position the
    /// journal never reached): forwarding from it would skip records. The reason says what the
    /// operator should check and do; docs/OPERATIONS.md, "relay refuses to start".
    case cursor(path: String, reason: String)
    /// libcurl could not be initialised (out of memory, broken installation). Reinstall
    /// libcurl4 and restart.
    case transport(String)
    /// The server refused the relay in a way retrying cannot fix: bad or unknown key (401),
    /// revoked host (403) or a fork (409). Forwarding stopped; the journal and cursor are
    /// kept. Fix the cause (re-enroll, un-revoke, investigate the fork incident on the
    /// server), then restart ledger-relay or send it SIGHUP.
    case refused(status: Int, code: String, message: String)

    /// Whether only an operator can cure this (a restart would refuse again).
    public var needsOperator: Bool {
        switch self {
        case .configuration, .key, .journal, .cursor: true
        case .state, .transport, .refused: false
        }
    }

    public var description: String {
        switch self {
        case let .configuration(message): return "configuration: \(message)"
        case let .key(path, reason): return "host key \(path): \(reason)"
        case let .journal(message): return "journal: \(message)"
        case let .state(path, reason): return "state \(path): \(reason)"
        case let .cursor(path, reason): return "refusing to start: the cursor \(path) is not this journal's: \(reason)"
        case let .transport(message): return "transport: \(message)"
        case let .refused(status, code, message): return "server refused with \(status) \(code): \(message)"
        }
    }
}
