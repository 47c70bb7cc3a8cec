#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Streaming verification of an NDJSON export (FORMAT.md §4).
//
// For every line: canonical JSON, a well-formed record, hash = SHA-256 of the
// record without "hash"; then, per chain (host_id, agent_id): sequence is the
// previous one plus 1 and prev_hash the previous hash; per host: host_seq strictly
// increases (by exactly 1 when the export is a host's complete stream).
//
// Memory is bounded by the number of chains and hosts, not records. Proven by
// Tests/LedgerCoreTests/ExportVerifierTests.swift, one tampered export per reason.

/// Why verification failed, as FORMAT.md §4 names it.
public enum VerificationReason: String, Sendable, CaseIterable {
    case hashMismatch = "hash_mismatch"
    case brokenLink = "broken_link"
    case sequenceGap = "sequence_gap"
    case duplicateSequence = "duplicate_sequence"
    case hostGap = "host_gap"
    case notCanonical = "not_canonical"
    case malformed
}

/// The first broken record of an export.
public struct VerificationFailure: Sendable, Equatable, CustomStringConvertible {
    public var line: Int
    public var reason: VerificationReason
    public var hostID: String?
    public var agentID: String?
    public var sequence: UInt64?
    public var id: String?
    public var message: String

    public var description: String {
        var text = "line \(line): \(reason.rawValue)"
        if let hostID, let agentID { text += " chain \(hostID)/\(agentID)" }
        if let sequence { text += " sequence \(sequence)" }
        if let id { text += " id \(id)" }
        return text + ": " + message
    }
}

/// A chain whose first record in the export is not sequence 1: valid only from its anchor on.
public struct PartialChain: Sendable, Equatable {
    public var hostID: String
    public var agentID: String
    public var firstSequence: UInt64
    /// The `prev_hash` of the first record present: what the chain is anchored at.
    public var anchor: SHA256Digest
}

public struct VerificationReport: Sendable, Equatable {
    public var records: Int
    public var chains: Int
    public var hosts: Int
    public var partialChains: [PartialChain]
    /// Nil when every record verified.
    public var failure: VerificationFailure?

    public var isValid: Bool { failure == nil }
}

public final class ExportVerifier {
    /// By exact bytes (ExactString): two spellings Swift deems equal are two chains.
    struct ChainKey: Hashable {
        var hostID: ExactString
        var agentID: ExactString
    }

    /// When true, every host's `host_seq` must run 1, 2, 3, … with no gap.
    public let completeStream: Bool
    private let reader = RecordReader()
    private var chains: [ChainKey: ChainHead] = [:]
    private var hosts: [ExactString: UInt64] = [:]
    private var partial: [PartialChain] = []
    private(set) public var records = 0
    private(set) public var lines = 0
    private(set) public var failure: VerificationFailure?
    /// Called with every record that passed, for checks against what the export should hold
    /// (the server compares with its chain heads and host positions).
    public var onRecord: ((StoredRecord) -> Void)?

    public init(completeStream: Bool = false) {
        self.completeStream = completeStream
    }

    /// Checks the next line (without its newline). Returns false once a record is broken;
    /// later lines are not looked at.
    @discardableResult
    public func consume(line: UnsafeRawBufferPointer) -> Bool {
        guard failure == nil else { return false }
        lines += 1
        let record: StoredRecord
        do {
            record = try reader.read(line)
        } catch {
            let reason: VerificationReason
            switch error {
            case .malformed: reason = .malformed
            case .notCanonical: reason = .notCanonical
            case .hashMismatch: reason = .hashMismatch
            }
            fail(reason, error.record, error.description)
            return false
        }
        let key = ChainKey(hostID: ExactString(record.hostID), agentID: ExactString(record.agentID))
        if let head = chains[key] {
            if record.sequence <= head.sequence {
                return fail(.duplicateSequence, record,
                            "sequence \(record.sequence) after \(head.sequence): already seen or out of order")
            }
            if record.sequence > head.sequence + 1 {
                return fail(.sequenceGap, record, "sequence \(record.sequence) follows \(head.sequence); "
                            + "\(record.sequence - head.sequence - 1) record(s) missing")
            }
            if record.prevHash != head.hash {
                return fail(.brokenLink, record, "prev_hash \(record.prevHash.hex) is not the hash of sequence "
                            + "\(head.sequence) (\(head.hash.hex))")
            }
        } else if record.sequence == 1 {
            if record.prevHash != .zero {
                return fail(.brokenLink, record, "sequence 1 must have prev_hash of 64 zeros")
            }
        } else {
            partial.append(PartialChain(hostID: record.hostID, agentID: record.agentID,
                                        firstSequence: record.sequence, anchor: record.prevHash))
        }
        let lastHostSeq = hosts[ExactString(record.hostID)]
        if let lastHostSeq, record.hostSeq <= lastHostSeq {
            return fail(.hostGap, record, "host_seq \(record.hostSeq) does not increase (previous \(lastHostSeq))")
        }
        if completeStream {
            let expected = (lastHostSeq ?? 0) + 1
            if record.hostSeq != expected {
                return fail(.hostGap, record, "host_seq \(record.hostSeq) where \(expected) was expected; "
                            + "\(record.hostSeq - expected) record(s) of host \(record.hostID) missing")
            }
        }
        chains[key] = ChainHead(sequence: record.sequence, hash: record.hash)
        hosts[ExactString(record.hostID)] = record.hostSeq
        records += 1
        onRecord?(record)
        return true
    }

    public func consume(line: [UInt8]) -> Bool {
        line.withUnsafeBytes { consume(line: $0) }
    }

    /// Reports on everything consumed so far.
    public func finish() -> VerificationReport {
        VerificationReport(records: records, chains: chains.count, hosts: hosts.count,
                           partialChains: partial, failure: failure)
    }

    /// Records a failure that no record-level detail is known for (e.g. a missing final newline).
    public func fail(line: Int, _ reason: VerificationReason, _ message: String) {
        guard failure == nil else { return }
        failure = VerificationFailure(line: line, reason: reason, message: message)
    }

    @discardableResult
    private func fail(_ reason: VerificationReason, _ record: StoredRecord?, _ message: String) -> Bool {
        failure = VerificationFailure(line: lines, reason: reason, hostID: record?.hostID, agentID: record?.agentID,
                                      sequence: record?.sequence, id: record?.id, message: message)
        return false
    }
}

/// Splits a byte stream into lines for the verifier, carrying partial lines across chunks.
public struct LineSplitter {
    private var pending: [UInt8] = []
    public let maxLineBytes: Int

    public init(maxLineBytes: Int = (1 << 20) + 1) { self.maxLineBytes = maxLineBytes }

    /// Calls `body` with every complete line (without `\n`) in `chunk`. Returns false, stopping,
    /// when `body` does, or when a line exceeds `maxLineBytes` (reported through `tooLong`).
    public mutating func feed(_ chunk: UnsafeRawBufferPointer, tooLong: () -> Void,
                              _ body: (UnsafeRawBufferPointer) -> Bool) -> Bool {
        var start = 0
        // memchr instead of a byte loop: the loop cost ~8 instructions per byte, as much as
        // a third of `ledgerctl canon`'s per-line work.
        while let base = chunk.baseAddress, start < chunk.count,
              let hit = memchr(base + start, Int32(UInt8(ascii: "\n")), chunk.count - start) {
            // SAFETY: memchr searched inside the chunk, so `hit` points into it.
            let i = base.distance(to: UnsafeRawPointer(hit))
            let piece = UnsafeRawBufferPointer(rebasing: chunk[start..<i])
            start = i + 1
            if pending.isEmpty {
                if piece.count > maxLineBytes { tooLong(); return false }
                if !body(piece) { return false }
            } else {
                pending.append(contentsOf: piece)
                if pending.count > maxLineBytes { tooLong(); return false }
                let keepGoing = pending.withUnsafeBytes { body($0) }
                pending.removeAll(keepingCapacity: true)
                if !keepGoing { return false }
            }
        }
        pending.append(contentsOf: UnsafeRawBufferPointer(rebasing: chunk[start...]))
        if pending.count > maxLineBytes { tooLong(); return false }
        return true
    }

    /// Bytes after the last newline: a final line that lacks its `\n`.
    public var remainder: [UInt8] { pending }
}
