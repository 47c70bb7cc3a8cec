// INVARIANT: the snapshot holds the chain heads as of exactly `hostSeq`, read
// from records on disk. It is written (atomically) before the records it was read
// from leave the journal, so a chain never restarts below its head: by retention
// before it deletes forwarded segments, and by recovery before it moves a segment
// whose frames are still readable to quarantine/ (those frames may lie past the
// checkpoint: counting a record that was never acknowledged leaves a visible
// sequence gap, forgetting one that was forks the chain).

import LedgerCore
import LedgerPosix

/// `journal/heads`: the chain heads as of a host_seq, the base recovery replays segments onto.
///
/// Frozen layout, do not reorder (integers little-endian):
/// ```
/// "LDGRHDS1" | u64 host_seq | u32 chain count |
///   per chain: u16 agent_id length n | agent_id (n bytes) | u64 sequence | 64 bytes hash (lowercase hex)
/// | u32 CRC-32 of every preceding byte
/// ```
public struct ChainSnapshot: Equatable, Sendable {
    public var hostSeq: UInt64
    /// Keyed by the exact agent_id (see ExactString).
    public var heads: [ExactString: ChainHead]

    public init(hostSeq: UInt64 = 0, heads: [ExactString: ChainHead] = [:]) {
        self.hostSeq = hostSeq
        self.heads = heads
    }

    static let magic: [UInt8] = Array("LDGRHDS1".utf8)

    public func encoded() -> [UInt8] {
        var out = Self.magic
        appendLE(hostSeq, to: &out)
        appendLE(UInt32(heads.count), to: &out)
        for (agent, head) in heads.sorted(by: { $0.key < $1.key }) {
            let name = agent.utf8
            appendLE(UInt16(name.count), to: &out)
            out.append(contentsOf: name)
            appendLE(head.sequence, to: &out)
            head.hash.appendHex(to: &out)
        }
        appendLE(CRC32.checksum(out), to: &out)
        return out
    }

    public static func decode(_ bytes: [UInt8]) -> ChainSnapshot? {
        guard bytes.count >= 24, bytes.prefix(8).elementsEqual(magic) else { return nil }
        return bytes.withUnsafeBytes { raw -> ChainSnapshot? in
            let body = raw.count - 4
            guard CRC32.checksum(UnsafeRawBufferPointer(rebasing: raw[..<body])) == loadLE(UInt32.self, raw, body) else {
                return nil
            }
            var snapshot = ChainSnapshot(hostSeq: loadLE(UInt64.self, raw, 8))
            let count = Int(loadLE(UInt32.self, raw, 16))
            var at = 20
            for _ in 0..<count {
                guard at + 2 <= body else { return nil }
                let n = Int(loadLE(UInt16.self, raw, at))
                at += 2
                guard at + n + 8 + 64 <= body else { return nil }
                let agent = ExactString(utf8: Array(raw[at..<(at + n)]))
                at += n
                let sequence = loadLE(UInt64.self, raw, at)
                at += 8
                guard let hash = SHA256Digest(hex: UnsafeRawBufferPointer(rebasing: raw[at..<(at + 64)])) else { return nil }
                at += 64
                snapshot.heads[agent] = ChainHead(sequence: sequence, hash: hash)
            }
            return at == body ? snapshot : nil
        }
    }

    public static func path(_ paths: JournalPaths) -> String { paths.journal + "/heads" }

    /// The stored snapshot, an empty one when there is none. A damaged snapshot is an error:
    /// without it, chains whose history was deleted would restart and fork.
    public static func load(_ paths: JournalPaths) throws -> ChainSnapshot {
        let file = path(paths)
        guard FileSystem.exists(file) else { return ChainSnapshot() }
        guard let snapshot = decode(try FileSystem.readFile(file, limit: 1 << 30)) else {
            throw JournalError.badCheckpoint(path: file)
        }
        return snapshot
    }

    public func store(_ paths: JournalPaths) throws {
        try FileSystem.writeAtomically(encoded(), to: Self.path(paths), permissions: 0o640)
    }

    /// Advances a head by a record read from the journal: heads only move forward, so
    /// replaying records the snapshot already covers changes nothing. Returns false when
    /// the record does not continue its chain (a gap left by quarantine).
    @discardableResult
    public mutating func apply(_ record: RecordFacts) -> Bool {
        let agent = ExactString(record.agentID)
        let head = heads[agent]
        if let head, record.sequence <= head.sequence {
            // Covered already (a record at or below the snapshot's host_seq), or a chain
            // going backwards, which is never applied.
            return record.hostSeq <= hostSeq
        }
        hostSeq = max(hostSeq, record.hostSeq)
        heads[agent] = ChainHead(sequence: record.sequence, hash: record.hash)
        return record.sequence == (head?.sequence ?? 0) + 1 && record.prevHash == (head?.hash ?? .zero)
    }
}
