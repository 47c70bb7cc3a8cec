import LedgerCore

/// The chain facts of a journal record: what recovery and retention need to rebuild chain
/// heads. Read with a plain JSON parse, without re-canonicalizing or re-hashing: the frame's
/// CRC already proved the bytes are the ones ledgerd wrote, and every record is re-hashed
/// downstream (ledger-relay's server, `ledgerctl verify`). This makes recovery several
/// times faster than `RecordReader` (measured: see docs/JOURNAL.md "Recovery").
public struct RecordFacts: Sendable, Equatable {
    public var id: String
    public var agentID: String
    public var hostID: String
    public var sequence: UInt64
    public var hostSeq: UInt64
    public var prevHash: SHA256Digest
    public var hash: SHA256Digest

    public init(id: String, agentID: String, hostID: String, sequence: UInt64, hostSeq: UInt64,
                prevHash: SHA256Digest, hash: SHA256Digest) {
        self.id = id
        self.agentID = agentID
        self.hostID = hostID
        self.sequence = sequence
        self.hostSeq = hostSeq
        self.prevHash = prevHash
        self.hash = hash
    }
}

/// Extracts `RecordFacts` from record bytes. Keeps its parse tape between records; one per thread.
public final class RecordFactsReader {
    private var tape = JSONTape()

    public init() {}

    /// The facts, or nil when the bytes are not a record object with well-formed chain fields.
    public func read(_ bytes: UnsafeRawBufferPointer) -> RecordFacts? {
        do { try tape.parse(bytes) } catch { return nil }
        guard tape.root.kind == .object else { return nil }
        func string(_ name: StaticString) -> String? {
            guard let at = tape.value(of: name, in: 0, bytes: bytes), tape[at].kind == .string else { return nil }
            return tape.string(at, bytes: bytes)
        }
        func integer(_ name: StaticString) -> UInt64? {
            guard let at = tape.value(of: name, in: 0, bytes: bytes),
                  let value = tape.exactInteger(at, bytes: bytes), value >= 0 else { return nil }
            return UInt64(value)
        }
        func digest(_ name: StaticString) -> SHA256Digest? {
            guard let at = tape.value(of: name, in: 0, bytes: bytes), tape[at].kind == .string else { return nil }
            let node = tape[at]
            return SHA256Digest(hex: UnsafeRawBufferPointer(rebasing: bytes[Int(node.start)..<Int(node.end)]))
        }
        guard let id = string("id"), let agentID = string("agent_id"), let hostID = string("host_id"),
              let sequence = integer("sequence"), sequence > 0, let hostSeq = integer("host_seq"),
              let prevHash = digest("prev_hash"), let hash = digest("hash") else { return nil }
        return RecordFacts(id: id, agentID: agentID, hostID: hostID, sequence: sequence, hostSeq: hostSeq,
                           prevHash: prevHash, hash: hash)
    }
}
