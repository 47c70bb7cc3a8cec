// INVARIANT: a chain head moves only by +1 with the new record's prev_hash equal
// to the old head's hash, and the host stream counter only by +1 (FORMAT.md §3,
// ARCHITECTURE.md invariant 4). `advance` refuses anything else, so a caller bug
// cannot fork a chain silently.

/// The last record of one chain.
public struct ChainHead: Sendable, Equatable, CustomStringConvertible {
    public var sequence: UInt64
    public var hash: SHA256Digest

    public init(sequence: UInt64, hash: SHA256Digest) {
        self.sequence = sequence
        self.hash = hash
    }

    public var description: String { "#\(sequence) \(hash.hex.prefix(12))…" }
}

/// Where the next record of a chain goes.
public struct ChainPosition: Sendable, Equatable {
    public var sequence: UInt64
    public var hostSeq: UInt64
    public var prevHash: SHA256Digest

    public init(sequence: UInt64, hostSeq: UInt64, prevHash: SHA256Digest) {
        self.sequence = sequence
        self.hostSeq = hostSeq
        self.prevHash = prevHash
    }
}

/// All chains of one host (one writer of records) and its stream counter.
/// Not thread-safe: one owner appends.
public struct HostChains: Sendable {
    public let hostID: String
    /// `host_seq` of the host's last record; 0 before the first.
    public private(set) var lastHostSeq: UInt64
    /// Chain heads keyed by `agent_id`.
    public private(set) var heads: [String: ChainHead]

    public init(hostID: String, lastHostSeq: UInt64 = 0, heads: [String: ChainHead] = [:]) {
        self.hostID = hostID
        self.lastHostSeq = lastHostSeq
        self.heads = heads
    }

    /// The position the next record of `agentID` takes.
    @inline(__always)
    public func nextPosition(for agentID: String) -> ChainPosition {
        let head = heads[agentID]
        return ChainPosition(sequence: (head?.sequence ?? 0) + 1, hostSeq: lastHostSeq + 1,
                             prevHash: head?.hash ?? .zero)
    }

    /// Records that the record at `position` of `agentID` was built with `hash`.
    /// Throws when `position` does not continue the chain and the stream exactly.
    public mutating func advance(agentID: String, to position: ChainPosition, hash: SHA256Digest) throws(ChainError) {
        let expected = nextPosition(for: agentID)
        guard position == expected else {
            throw ChainError.discontinuous(agentID: agentID, expected: expected, got: position)
        }
        heads[agentID] = ChainHead(sequence: position.sequence, hash: hash)
        lastHostSeq = position.hostSeq
    }

    /// `advance` without the check, for a position that `nextPosition` just returned on
    /// this same value (RecordBuilder.seal): one dictionary update instead of three.
    mutating func commit(agentID: String, at position: ChainPosition, hash: SHA256Digest) {
        assert(position == nextPosition(for: agentID))
        heads[agentID] = ChainHead(sequence: position.sequence, hash: hash)
        lastHostSeq = position.hostSeq
    }

    /// `nextPosition` plus where the chain's head is stored, so that `commit(slot:)` can
    /// update it without hashing `agentID` again (~300 instructions each time).
    @inline(__always)
    func nextPositionAndSlot(for agentID: String) -> (ChainPosition, Dictionary<String, ChainHead>.Index?) {
        guard let slot = heads.index(forKey: agentID) else {
            return (ChainPosition(sequence: 1, hostSeq: lastHostSeq + 1, prevHash: .zero), nil)
        }
        let head = heads.values[slot]
        return (ChainPosition(sequence: head.sequence + 1, hostSeq: lastHostSeq + 1, prevHash: head.hash), slot)
    }

    /// `commit` for a position and slot that `nextPositionAndSlot` just returned on this
    /// same, unmodified value (the slot is only valid until the dictionary changes).
    mutating func commit(agentID: String, slot: Dictionary<String, ChainHead>.Index?, at position: ChainPosition,
                         hash: SHA256Digest) {
        assert(position == nextPosition(for: agentID))
        let head = ChainHead(sequence: position.sequence, hash: hash)
        if let slot { heads.values[slot] = head } else { heads[agentID] = head }
        lastHostSeq = position.hostSeq
    }

    /// Replays a stored record while rebuilding state (journal recovery, a server loading a
    /// host): like `advance`, it requires exact continuation.
    public mutating func replay(_ record: StoredRecord) throws(ChainError) {
        try advance(agentID: record.agentID,
                    to: ChainPosition(sequence: record.sequence, hostSeq: record.hostSeq, prevHash: record.prevHash),
                    hash: record.hash)
    }

    public var chainCount: Int { heads.count }
}

/// A record that does not continue its chain or its host's stream.
public enum ChainError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The position differs from the one the chain state expects. In a daemon this is a
    /// bug or a damaged journal: stop and investigate, never skip.
    case discontinuous(agentID: String, expected: ChainPosition, got: ChainPosition)

    public var description: String {
        switch self {
        case let .discontinuous(agent, expected, got):
            return "chain \(agent): expected sequence \(expected.sequence) host_seq \(expected.hostSeq) "
                + "prev_hash \(expected.prevHash.hex.prefix(12))…, got sequence \(got.sequence) "
                + "host_seq \(got.hostSeq) prev_hash \(got.prevHash.hex.prefix(12))…"
        }
    }
}
