#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Reading a stored or exported record line back and checking it on its own:
// canonical form, field rules and its hash (FORMAT.md §3, §4). Chain continuity
// across records is the verifier's and HostChains' business.

/// The facts of a record that chains, storage and queries need.
public struct StoredRecord: Sendable, Equatable {
    public var id: String
    public var agentID: String
    public var hostID: String
    public var sequence: UInt64
    public var hostSeq: UInt64
    public var prevHash: SHA256Digest
    public var hash: SHA256Digest
    public var timestamp: String
    public var receivedAt: String
    public var sessionID: String?
    public var actionType: String?
    public var actionStatus: String?
}

/// A string member of a record line: where its content (between the quotes) is in the line.
public struct RecordLineText: Sendable, Equatable {
    public var start: Int32
    public var count: Int32
    /// The content holds escapes, so its bytes are not the value's UTF-8. In a canonical line
    /// only `"`, `\` and control characters are escaped, so ids, hashes and timestamps never are.
    public var isEscaped: Bool

    /// The value's UTF-8 bytes, decoded from `line` when escaped.
    public func withValue<T>(in line: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) -> T) -> T {
        let raw = UnsafeRawBufferPointer(rebasing: line[Int(start)..<Int(start + count)])
        guard isEscaped else { return body(raw) }
        var decoded: [UInt8] = []
        JSONEscapes.decode(line, from: Int(start), to: Int(start + count), into: &decoded)
        return decoded.withUnsafeBytes(body)
    }
}

/// The facts of a checked record line as positions in it: what ingest stores beside the
/// line, without allocating a String per field (`RecordReader.check`).
public struct RecordLineFacts: Sendable {
    public var id: RecordLineText
    public var agentID: RecordLineText
    public var hostID: RecordLineText
    public var sessionID: RecordLineText?
    public var actionType: RecordLineText?
    public var actionStatus: RecordLineText?
    public var sequence: UInt64
    public var hostSeq: UInt64
    public var prevHash: SHA256Digest
    public var hash: SHA256Digest
    /// `timestamp` in microseconds since the epoch (UTC), fractions past microseconds truncated.
    public var timestampMicros: Int64
}

/// Why a record line does not check out on its own.
public enum RecordLineFailure: Error, Equatable, Sendable, CustomStringConvertible {
    /// Not JSON, or JSON that is not a well-formed record (a field missing or of the wrong type).
    case malformed(String)
    /// Valid record JSON whose bytes are not its RFC 8785 canonical form.
    case notCanonical(StoredRecord)
    /// The recorded `hash` is not the SHA-256 of the record without it.
    case hashMismatch(recorded: SHA256Digest, computed: SHA256Digest, record: StoredRecord)

    /// The record's facts, when it was well formed enough to have them.
    public var record: StoredRecord? {
        switch self {
        case .malformed: nil
        case let .notCanonical(record): record
        case let .hashMismatch(_, _, record): record
        }
    }

    public var description: String {
        switch self {
        case let .malformed(message): "malformed: \(message)"
        case .notCanonical: "not canonical: the line is not the RFC 8785 form of its JSON"
        case let .hashMismatch(recorded, computed, _): "hash mismatch: recorded \(recorded.hex), computed \(computed.hex)"
        }
    }
}

/// Reads record lines. Keeps scratch buffers between lines; one per thread.
public final class RecordReader {
    private var tape = JSONTape()
    private var fields = RecordFieldSlots()
    private var canonical: [UInt8] = []
    private let hasher = SHA256Hasher()
    public var limits = JSONLimits.default

    public init() {}

    /// Checks one line (without its newline) and returns its facts.
    public func read(_ line: UnsafeRawBufferPointer) throws(RecordLineFailure) -> StoredRecord {
        _ = try check(line)
        return facts(line)
    }

    /// Checks one line (without its newline) like `read`, and returns its facts as positions
    /// in the line: the ingest path, which stores byte ranges and needs no Strings.
    public func check(_ line: UnsafeRawBufferPointer) throws(RecordLineFailure) -> RecordLineFacts {
        do {
            try tape.parse(line, limits: limits)
        } catch {
            throw .malformed(error.description)
        }
        do {
            try RecordValidator.validate(tape, bytes: line, mode: .stored, into: &fields)
        } catch {
            throw .malformed(error.field.map { "\($0): \(error.message)" } ?? error.message)
        }
        canonical.removeAll(keepingCapacity: true)
        CanonicalJSON.write(tape, 0, bytes: line, into: &canonical)
        guard canonical.count == line.count,
              canonical.withUnsafeBytes({ memcmp($0.baseAddress!, line.baseAddress!, line.count) == 0 }) else {
            throw .notCanonical(facts(line))
        }
        // From here the line is canonical: the fields below that cannot hold `"`, `\` or a
        // control character (validated) are escape-free, so their bytes are their values.
        let recorded = digest(.hash, line)
        // SHA-256 over the line without its `"hash":"…"` member and one adjoining comma.
        let hashValue = fields[.hash]!
        let memberStart = Int(tape[hashValue - 1].start) - 1
        var memberEnd = Int(tape[hashValue].end) + 1
        var cutStart = memberStart
        if line[memberEnd] == UInt8(ascii: ",") { memberEnd += 1 } else { cutStart -= 1 }
        hasher.reset()
        hasher.update(UnsafeRawBufferPointer(rebasing: line[..<cutStart]))
        hasher.update(UnsafeRawBufferPointer(rebasing: line[memberEnd...]))
        let computed = hasher.finalize()
        guard computed == recorded else {
            throw .hashMismatch(recorded: recorded, computed: computed, record: facts(line))
        }
        let timestamp = fields[.timestamp]!
        return RecordLineFacts(
            id: text(.id)!, agentID: text(.agentID)!, hostID: text(.hostID)!,
            sessionID: text(.sessionID), actionType: text(.actionType), actionStatus: text(.actionStatus),
            sequence: UInt64(tape.exactInteger(fields[.sequence]!, bytes: line)!),
            hostSeq: UInt64(tape.exactInteger(fields[.hostSeq]!, bytes: line)!),
            prevHash: digest(.prevHash, line), hash: recorded,
            timestampMicros: RFC3339.validatedMicroseconds(
                UnsafeRawBufferPointer(rebasing: line[Int(tape[timestamp].start)..<Int(tape[timestamp].end)])))
    }

    private func text(_ field: RecordField) -> RecordLineText? {
        guard let index = fields[field] else { return nil }
        let node = tape[index]
        return RecordLineText(start: Int32(node.start), count: Int32(node.end - node.start), isEscaped: node.hasEscapes)
    }

    private func digest(_ field: RecordField, _ line: UnsafeRawBufferPointer) -> SHA256Digest {
        // Validated as 64 lowercase hex digits (after unescaping: the line may not be canonical).
        RecordValidator.withText(tape, fields[field]!, line) { SHA256Digest(hex: $0) }!
    }

    public func read(_ line: [UInt8]) throws(RecordLineFailure) -> StoredRecord {
        let result: Result<StoredRecord, RecordLineFailure> = line.withUnsafeBytes { buffer in
            do throws(RecordLineFailure) { return .success(try read(buffer)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    private func facts(_ line: UnsafeRawBufferPointer) -> StoredRecord {
        func text(_ field: RecordField) -> String { tape.string(fields[field]!, bytes: line) }
        func optionalText(_ field: RecordField) -> String? { fields[field].map { tape.string($0, bytes: line) } }
        return StoredRecord(
            id: text(.id), agentID: text(.agentID), hostID: text(.hostID),
            sequence: UInt64(tape.exactInteger(fields[.sequence]!, bytes: line)!),
            hostSeq: UInt64(tape.exactInteger(fields[.hostSeq]!, bytes: line)!),
            prevHash: digest(.prevHash, line), hash: digest(.hash, line),
            timestamp: text(.timestamp), receivedAt: text(.receivedAt),
            sessionID: optionalText(.sessionID), actionType: optionalText(.actionType),
            actionStatus: optionalText(.actionStatus))
    }
}
