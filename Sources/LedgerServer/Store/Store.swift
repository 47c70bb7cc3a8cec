import LedgerCore

// The one storage surface the handlers see. SQLiteStore implements it today; a
// PostgreSQL store implements the same protocol later without any handler change.
//
// Decisions that concern chains (replay, fork, gap) are not made by a store: they
// live in RelayBatchApplier and DirectIngestor, which talk to a store's
// transaction primitives (`StoreTransaction`). A new backend only has to supply
// those primitives, group commit and the queries.

/// The storage behind the server. Every method is thread-safe.
public protocol Store: AnyObject, Sendable {
    // MARK: Ingest
    /// Applies one verified relay batch all-or-nothing: stored, replay, or fork (nothing stored).
    func appendRelayBatch(_ batch: VerifiedRelayBatch) throws -> RelayBatchOutcome
    /// Stores records the server sealed on its own chains, in one transaction.
    func appendDirect(hostID: String, records: IngestRows) throws
    /// The chain state of a host, as stored (the server's own chains at start).
    func loadHostChains(hostID: String) throws -> HostChains
    /// Creates the server's own host row (kind `server`) when absent, at start. Throws
    /// `.conflict` when `id` is enrolled as a relay: the server would seal onto its stream.
    func claimServerHost(id: String) throws

    // MARK: Reads
    /// One page of records matching `query`, in storage order, after `query.after`.
    func records(_ query: RecordQuery) throws -> RecordPage
    /// The canonical bytes of the record with `id`.
    func record(id: String) throws -> [UInt8]?
    /// Every chain (host, agent) with its head and status.
    func chains(hostID: String?, agentID: String?) throws -> [ChainSummary]
    func hosts() throws -> [HostEntry]
    func host(id: String) throws -> HostEntry?
    func incidents(hostID: String?, agentID: String?) throws -> [Incident]
    func stats() throws -> StoreStats
    /// A trivial round trip (`SELECT 1`) on the connections kept for authentication, so that it
    /// answers even while heavy reads hold every pooled connection (GET /healthz).
    func ping() throws
    /// Pages for an export: paging by position through them misses no record that was committed
    /// when the scan began, whatever commits meanwhile.
    func recordScan() throws -> RecordScan
    /// Reads that all see one committed state (verify compares records with the chains and hosts
    /// tables). Holds a connection until closed or released.
    func snapshot() throws -> StoreSnapshot

    // MARK: Hosts and enrollment
    /// Enrolls a relay host with its Ed25519 public key (base64). Throws `.conflict` if it exists
    /// (also as a server's own host id).
    func addHost(id: String, publicKey: String) throws
    /// Marks a host revoked; returns false when unknown.
    func revokeHost(id: String) throws -> Bool
    /// Replaces a relay host's public key (key rotation, also after a compromise) and makes
    /// the host active again; its stream and chains continue. False when unknown.
    func rotateHostKey(id: String, publicKey: String) throws -> Bool
    func addEnrollmentToken(hash: String, expiresAtMicros: Int64) throws
    /// Uses a token once to enroll a host; false when the token is unknown, used or expired.
    func redeemEnrollmentToken(hash: String, hostID: String, publicKey: String, nowMicros: Int64) throws -> Bool

    // MARK: API keys
    func addAPIKey(_ key: APIKeyEntry, hash: String) throws
    /// The live (not revoked) key whose SHA-256 is `hash`.
    func apiKey(hash: String) throws -> APIKeyEntry?
    func apiKeys() throws -> [APIKeyEntry]
    func revokeAPIKey(id: String) throws -> Bool

    /// Finishes pending writes and closes every connection.
    func close()
}

/// Record pages read for one export; see `Store.recordScan`.
public protocol RecordScan: AnyObject {
    func records(_ query: RecordQuery) throws -> RecordPage
}

/// Reads of one consistent state; see `Store.snapshot`. `close` (also run when released) hands
/// the connection back.
public protocol StoreSnapshot: RecordScan {
    func chains(hostID: String?, agentID: String?) throws -> [ChainSummary]
    func hosts() throws -> [HostEntry]
    func incidents(hostID: String?, agentID: String?) throws -> [Incident]
    func close()
}

/// A store failure that is not a backend error.
public enum StoreError: Error, Equatable, CustomStringConvertible {
    /// The thing to create already exists (a host id enrolled twice). Pick another id or revoke first.
    case conflict(String)
    /// The store is closed (the server is shutting down); the client should retry later.
    case closed
    /// A stored record does not read back (damaged database): run `GET /v1/verify` and restore.
    case corrupt(String)
    /// The database cannot be reached right now (PostgreSQL restarting, network down). Answered
    /// 503, which relays retry; the server reconnects with backoff. Check the database if it lasts.
    case unavailable(String)
    /// The server's own host moved on without this server (another writer with the same
    /// --host-id): nothing was stored, and the server reloads its chain heads before the next
    /// request. Answered 503; resending succeeds. Give each server its own --host-id.
    case headMoved(String)
    /// The relay host was revoked while its batch was in flight (verified before, refused in
    /// its transaction): nothing stored. Answered 403 like any batch of a revoked host.
    /// The database rolled back a whole group-commit transaction (disk full, I/O error):
    /// nothing of it was stored. Answered 503; relays resend. Check the disk if it repeats.
    case transactionLost(String)
    case hostRevoked(String)
    /// The relay host's key was rotated while its batch was in flight: the batch was verified
    /// with a key that is no longer enrolled, nothing stored. Answered 401; re-sign and resend.
    case hostKeyChanged(String)

    public var description: String {
        switch self {
        case let .conflict(what): "conflict: \(what)"
        case .closed: "the store is closed"
        case let .corrupt(what): "corrupt store: \(what)"
        case let .unavailable(why): "the database is unavailable: \(why)"
        case let .headMoved(why): why
        case let .transactionLost(why): "the store rolled back the transaction, nothing was stored: \(why)"
        case let .hostRevoked(host): "host \(host) is revoked"
        case let .hostKeyChanged(host):
            "the key of host \(host) changed while this batch was in flight; it was signed with the old key"
        }
    }
}

extension StoreError {
    /// --host-id names an enrolled relay: sealing there would fork the relay's stream.
    static func relayHoldsServerID(_ id: String) -> StoreError {
        .conflict("host \(id) is enrolled as a relay host; --host-id must name this server's own host, not a relay's")
    }

    /// An id to enroll exists; a server's own id is named as such (no relay may write its chains).
    static func hostTaken(_ id: String, _ kind: HostEntry.Kind) -> StoreError {
        .conflict(kind == .server
            ? "host \(id) is a server's own host id (its direct-ingest chains); choose another host id"
            : "host \(id) is already enrolled")
    }
}

/// A relay batch whose signature, size and records have been checked on their own.
public struct VerifiedRelayBatch: Sendable {
    public var hostID: String
    /// host_seq of the batch's first record.
    public var batchSeq: UInt64
    public var bodySHA256: SHA256Digest
    /// Records in host_seq order, contiguous from `batchSeq`.
    public var rows: IngestRows
    public var receivedAtMicros: Int64
    /// The host_seq the relay declared it sent right before this batch (X-Ledger-Predecessor,
    /// signed); nil for a batch without the declaration. With it, a batch that starts past the
    /// stored host_seq while the store does not yet hold this host_seq is still in flight
    /// behind its predecessor, not a gap (`RelayBatchOutcome.predecessorPending`).
    public var predecessorHostSeq: UInt64? = nil
    /// The enrolled public key (base64, as stored) that verified the signature. The store
    /// requires the host's row to still hold it, unrevoked, in the batch's transaction: a batch
    /// verified before a revocation or rotation and stored after it is refused. Nil: not checked
    /// (batches built in-process by tests and benchmarks).
    public var verifiedPublicKey: String? = nil
}

public enum RelayBatchOutcome: Sendable, Equatable {
    /// New records were stored (`incidents` lists any gap accepted with them).
    case stored(records: Int, replayed: Int, incidents: [Incident])
    /// Every record was already stored with the same hash: nothing written.
    case replay(records: Int)
    /// The batch contradicts what is stored; nothing of it was stored, the incident was.
    case fork(Incident)
    /// The batch declared a predecessor the store does not hold yet (`storedHostSeq` is what it
    /// holds): nothing written, no incident; answered 503 so the relay sends it again.
    case predecessorPending(storedHostSeq: UInt64)
}

/// What kind of integrity event was recorded.
public enum IncidentKind: String, Sendable, Equatable {
    /// Same host_seq or chain sequence, different hash: the host rewrote history.
    case fork
    /// A batch started past the stored host_seq: records lost on the host.
    case hostGap = "host_gap"
    /// A chain continued past its stored head + 1: records of that chain missing.
    case sequenceGap = "sequence_gap"
}

public struct Incident: Sendable, Equatable {
    public var id: Int64
    public var kind: IncidentKind
    public var hostID: String
    public var agentID: String?
    public var batchSeq: UInt64?
    public var detail: String
    public var createdAtMicros: Int64

    public init(id: Int64 = 0, kind: IncidentKind, hostID: String, agentID: String? = nil, batchSeq: UInt64? = nil,
                detail: String, createdAtMicros: Int64) {
        self.id = id
        self.kind = kind
        self.hostID = hostID
        self.agentID = agentID
        self.batchSeq = batchSeq
        self.detail = detail
        self.createdAtMicros = createdAtMicros
    }
}

/// Filters of `GET /v1/events` and `GET /v1/export`.
public struct RecordQuery: Sendable, Equatable {
    public var hostID: String?
    public var agentID: String?
    public var sessionID: String?
    public var actionType: String?
    public var actionStatus: String?
    public var sinceMicros: Int64?
    public var untilMicros: Int64?
    public var labels: [(String, String)] = []
    public var limit: Int = 100
    /// Storage position to continue after (from a cursor); 0 from the start.
    public var after: Int64 = 0

    public init() {}

    public static func == (a: RecordQuery, b: RecordQuery) -> Bool {
        a.hostID == b.hostID && a.agentID == b.agentID && a.sessionID == b.sessionID && a.actionType == b.actionType
            && a.actionStatus == b.actionStatus && a.sinceMicros == b.sinceMicros && a.untilMicros == b.untilMicros
            && a.labels.elementsEqual(b.labels, by: { $0 == $1 }) && a.limit == b.limit && a.after == b.after
    }
}

public struct RecordPage: Sendable {
    /// Canonical record lines.
    public var lines: [[UInt8]]
    /// Position of the last record returned, when more may follow.
    public var next: Int64?
}

public struct ChainSummary: Sendable, Equatable {
    public var hostID: String
    public var agentID: String
    public var records: Int64
    public var firstSequence: UInt64
    public var head: ChainHead
    public var lastActivityMicros: Int64
    /// `ok`, or the kind of the last incident on this chain.
    public var status: String
}

public struct HostEntry: Sendable, Equatable {
    public enum Kind: String, Sendable { case relay, server }
    public var id: String
    public var kind: Kind
    public var publicKey: String?
    public var revoked: Bool
    public var lastHostSeq: UInt64
    public var records: Int64
    public var lastActivityMicros: Int64?
    public var createdAtMicros: Int64
}

public struct StoreStats: Sendable, Equatable {
    public var records: Int64
    public var hosts: Int64
    public var chains: Int64
    public var batches: Int64
    public var incidents: Int64
}
