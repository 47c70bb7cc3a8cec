// INVARIANT: a chain head moves only by +1 with the new record's prev_hash equal
// to the old head's hash, and the host stream counter only by +1 (FORMAT.md §3,
// ARCHITECTURE.md invariant 4). `advance` refuses anything else, so a caller bug
// cannot fork a chain silently.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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
///
/// Chains are found by the UTF-8 bytes of their `agent_id`, so that the daemon's loop can
/// look one up straight from the event's bytes: a String per event (and String hashing)
/// cost it ~800 instructions. The table hashes with the standard library's per-process
/// seeded `Hasher`: writers choose agent ids, and must not be able to pick colliding ones.
public struct HostChains: Sendable {
    public let hostID: String
    /// `host_seq` of the host's last record; 0 before the first.
    public private(set) var lastHostSeq: UInt64
    /// Chain k's agent_id, its UTF-8 (`names[nameEnds[k-1]..<nameEnds[k]]`) and its head.
    private var agents: [String] = []
    private var names: [UInt8] = []
    private var nameEnds: [Int] = []
    private var chainHeads: [ChainHead] = []
    /// Open addressing, linear probing: chain number + 1, 0 for an empty bucket. At most half full.
    private var buckets: [Int32] = Array(repeating: 0, count: 16)

    public init(hostID: String, lastHostSeq: UInt64 = 0, heads: [ExactString: ChainHead] = [:]) {
        self.hostID = hostID
        self.lastHostSeq = lastHostSeq
        for (agent, head) in heads.sorted(by: { $0.key < $1.key }) {
            agent.utf8.withUnsafeBytes { name in
                let slot = self.slot(for: name)
                insert(agent.string, name, head, bucket: slot.bucket)
            }
        }
    }

    /// Chain heads keyed by the exact `agent_id` (built on each call: for status, snapshots and
    /// tests). Not `String` keys: two spellings that Swift deems equal are two chains here.
    public var heads: [ExactString: ChainHead] {
        var heads: [ExactString: ChainHead] = [:]
        heads.reserveCapacity(chainHeads.count)
        for chain in chainHeads.indices {
            heads[ExactString(utf8: Array(names[(chain == 0 ? 0 : nameEnds[chain - 1])..<nameEnds[chain]]))] =
                chainHeads[chain]
        }
        return heads
    }

    public var chainCount: Int { agents.count }

    /// The position the next record of `agentID` takes.
    public func nextPosition(for agentID: String) -> ChainPosition {
        var agentID = agentID
        return agentID.withUTF8 { nextPositionAndSlot(forUTF8: UnsafeRawBufferPointer($0)).0 }
    }

    /// Records that the record at `position` of `agentID` was built with `hash`.
    /// Throws when `position` does not continue the chain and the stream exactly.
    public mutating func advance(agentID: String, to position: ChainPosition, hash: SHA256Digest) throws(ChainError) {
        var name = agentID
        let result: ChainError? = name.withUTF8 { utf8 in
            let bytes = UnsafeRawBufferPointer(utf8)
            let (expected, slot) = nextPositionAndSlot(forUTF8: bytes)
            guard position == expected else {
                return .discontinuous(agentID: agentID, expected: expected, got: position)
            }
            commit(slot: slot, agentUTF8: bytes, at: position, hash: hash)
            return nil
        }
        if let result { throw result }
    }

    /// Where a chain's head is kept (`chain`), or where a new chain goes (`bucket`).
    struct Slot {
        var chain: Int?
        var bucket: Int
    }

    /// The position the next record of the agent whose agent_id has these UTF-8 bytes takes,
    /// and its slot for `commit`.
    @inline(__always)
    func nextPositionAndSlot(forUTF8 name: UnsafeRawBufferPointer) -> (ChainPosition, Slot) {
        let slot = self.slot(for: name)
        guard let chain = slot.chain else {
            return (ChainPosition(sequence: 1, hostSeq: lastHostSeq + 1, prevHash: .zero), slot)
        }
        let head = chainHeads[chain]
        return (ChainPosition(sequence: head.sequence + 1, hostSeq: lastHostSeq + 1, prevHash: head.hash), slot)
    }

    /// Moves the head for a position and slot that `nextPositionAndSlot` just returned on this
    /// same, unmodified value (a new chain's bucket is only valid until the table changes).
    mutating func commit(slot: Slot, agentUTF8 name: UnsafeRawBufferPointer, at position: ChainPosition,
                         hash: SHA256Digest) {
        assert(position == nextPositionAndSlot(forUTF8: name).0)
        let head = ChainHead(sequence: position.sequence, hash: hash)
        if let chain = slot.chain {
            chainHeads[chain] = head
        } else {
            insert(String(decoding: name, as: UTF8.self), name, head, bucket: slot.bucket)
        }
        lastHostSeq = position.hostSeq
    }

    /// Replays a stored record while rebuilding state (journal recovery, a server loading a
    /// host): like `advance`, it requires exact continuation.
    public mutating func replay(_ record: StoredRecord) throws(ChainError) {
        try advance(agentID: record.agentID,
                    to: ChainPosition(sequence: record.sequence, hostSeq: record.hostSeq, prevHash: record.prevHash),
                    hash: record.hash)
    }

    @inline(__always)
    private static func hash(_ name: UnsafeRawBufferPointer) -> Int {
        var hasher = Hasher()
        hasher.combine(bytes: name)
        return hasher.finalize()
    }

    private func slot(for name: UnsafeRawBufferPointer) -> Slot {
        let mask = buckets.count - 1
        var bucket = Self.hash(name) & mask
        return buckets.withUnsafeBufferPointer { table in
            names.withUnsafeBytes { all in
                while true {
                    let entry = Int(table[bucket])
                    if entry == 0 { return Slot(chain: nil, bucket: bucket) }
                    let chain = entry - 1
                    let start = chain == 0 ? 0 : nameEnds[chain - 1]
                    let end = nameEnds[chain]
                    if end - start == name.count,
                       name.count == 0 || memcmp(all.baseAddress! + start, name.baseAddress!, name.count) == 0 {
                        return Slot(chain: chain, bucket: bucket)
                    }
                    bucket = (bucket + 1) & mask
                }
            }
        }
    }

    private mutating func insert(_ agent: String, _ name: UnsafeRawBufferPointer, _ head: ChainHead, bucket: Int) {
        agents.append(agent)
        names.append(contentsOf: name)
        nameEnds.append(names.count)
        chainHeads.append(head)
        buckets[bucket] = Int32(agents.count)
        if agents.count * 2 > buckets.count { rehash(capacity: buckets.count * 2) }
    }

    private mutating func rehash(capacity: Int) {
        buckets = Array(repeating: 0, count: capacity)
        let mask = capacity - 1
        names.withUnsafeBytes { all in
            for chain in agents.indices {
                let start = chain == 0 ? 0 : nameEnds[chain - 1]
                var bucket = Self.hash(UnsafeRawBufferPointer(rebasing: all[start..<nameEnds[chain]])) & mask
                while buckets[bucket] != 0 { bucket = (bucket + 1) & mask }
                buckets[bucket] = Int32(chain + 1)
            }
        }
    }

    /// Checks the table against the chain list (for tests): every chain is found, by its own bytes.
    func testOnly_verifyInvariants() -> Bool {
        guard agents.count == chainHeads.count, agents.count == nameEnds.count,
              buckets.count >= 2 * agents.count || agents.count == 0 else { return false }
        for chain in agents.indices {
            var agent = agents[chain]
            let found = agent.withUTF8 { slot(for: UnsafeRawBufferPointer($0)).chain }
            guard found == chain else { return false }
        }
        return buckets.filter { $0 != 0 }.count == agents.count
    }
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
