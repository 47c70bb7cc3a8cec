import LedgerCore

// The primitives a backend supplies inside one write transaction. The chain
// decisions built on them (RelayBatchApplier) are shared by every backend.

/// Reads and writes inside one open transaction. Not thread-safe; lives for one job.
public protocol StoreTransaction {
    /// The host's row as this transaction sees it, nil for an unknown host. Read under the
    /// host's lock (PostgreSQL: FOR UPDATE; SQLite: the one writer), so nothing in it changes
    /// before COMMIT: a decision taken on it holds for what this transaction writes.
    func hostState(hostID: String) throws -> HostState?
    /// The hash of the record stored at `hostSeq` of `hostID`.
    func storedHash(hostID: String, hostSeq: UInt64) throws -> SHA256Digest?
    func chainHead(hostID: String, agentID: String) throws -> ChainHead?
    /// Inserts `rows.rows[range]`: the hot loop of ingest, one call per request.
    func insert(_ rows: IngestRows, hostID: String, range: Range<Int>) throws
    /// Moves a chain's head (creating the chain when new) and adds `addedRecords` to its count.
    func updateChain(hostID: String, agentID: String, head: ChainHead, firstSequence: UInt64, addedRecords: Int,
                     lastActivityMicros: Int64) throws
    /// Moves a host's stream position (creating a `server` host when new).
    func updateHost(hostID: String, lastHostSeq: UInt64, addedRecords: Int, lastActivityMicros: Int64) throws
    func insertBatch(hostID: String, batchSeq: UInt64, lastHostSeq: UInt64, bodySHA256: SHA256Digest, records: Int,
                     atMicros: Int64) throws
    /// Stores an incident and marks its chain (when it names one); returns its id.
    func insertIncident(_ incident: Incident) throws -> Int64
}

/// What a write transaction needs to know of a host's row.
public struct HostState: Sendable, Equatable {
    public var kind: HostEntry.Kind
    /// `host_seq` of the host's last stored record (0 when none).
    public var lastHostSeq: UInt64
    public var revoked: Bool
    /// Base64 Ed25519 public key of a relay host; nil for a server's own host.
    public var publicKey: String?
}

extension StoreTransaction {
    /// `host_seq` of the host's last stored record (0 when none) or nil for an unknown host.
    func lastHostSeq(hostID: String) throws -> UInt64? { try hostState(hostID: hostID)?.lastHostSeq }

    /// Stores records that continue their chains by construction (the server's own, sealed
    /// under DirectIngestor's lock), moving heads and the host position with them.
    ///
    /// The sealer's view of the host is checked against the stored row first: records sealed
    /// on a relay's stream (a --host-id that names an enrolled relay), or from heads that are
    /// no longer the stored ones (another writer with the same --host-id), would otherwise be
    /// stored as a fork of that stream, or fail on the unique host_seq for every later request.
    func appendSealed(hostID: String, records: IngestRows, nowMicros: Int64) throws {
        guard let first = records.rows.first, let last = records.rows.last else { return }
        let state = try hostState(hostID: hostID)
        if let state, state.kind != .server {
            throw StoreError.conflict("host \(hostID) is an enrolled relay host; the server cannot seal its own "
                                      + "records on that stream (choose another --host-id)")
        }
        let stored = state?.lastHostSeq ?? 0
        guard first.hostSeq == stored + 1 else {
            throw StoreError.headMoved("the server sealed host_seq \(first.hostSeq) of \(hostID), but the store "
                                       + "holds \(stored): another writer uses this host id (--host-id must be "
                                       + "unique per server); the chain heads are reloaded, send again")
        }
        try insert(records, hostID: hostID, range: records.rows.indices)
        var chains: [Int32: SealedPending] = [:]
        for row in records.rows {
            let head = ChainHead(sequence: row.sequence, hash: row.hash)
            if var pending = chains[row.agent] {
                pending.head = head
                pending.added += 1
                chains[row.agent] = pending
            } else {
                chains[row.agent] = SealedPending(head: head, first: row.sequence == 1 ? 1 : 0, added: 1)
            }
        }
        for (agent, pending) in chains {
            try updateChain(hostID: hostID, agentID: records.agents[Int(agent)], head: pending.head,
                            firstSequence: pending.first, addedRecords: pending.added, lastActivityMicros: nowMicros)
        }
        try updateHost(hostID: hostID, lastHostSeq: last.hostSeq, addedRecords: records.count,
                       lastActivityMicros: nowMicros)
    }
}
struct SealedPending { var head: ChainHead; var first: UInt64; var added: Int }
