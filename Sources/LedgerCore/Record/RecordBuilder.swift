// Turns one event as a writer sent it into a sealed, canonical, hash-chained record.
//
// hash = lowercase hex SHA-256( JCS(record without "hash") )      FORMAT.md §3
//
// The record's members are written in RFC 8785 order straight from the tape, so
// no intermediate tree is built. "hash" sorts between "error_message" and
// "host_id"; the builder writes the record without it, hashes those bytes, and
// splices `"hash":"…",` in before `"host_id"`.

/// Who handed a record over (`origin`, FORMAT.md §2).
public enum Origin: Sendable, Equatable {
    /// A local writer on the daemon's socket, from SO_PEERCRED.
    case unix(uid: UInt32, gid: UInt32, pid: Int32)
    /// A writer on the server's HTTP API, identified by its API key's id.
    case http(keyID: String)

    /// Appends the canonical JSON object.
    public func write(into out: inout [UInt8]) {
        switch self {
        case let .unix(uid, gid, pid):
            appendStatic("{\"gid\":", into: &out)
            appendDecimal(UInt64(gid), into: &out)
            appendStatic(",\"pid\":", into: &out)
            if pid < 0 { out.append(UInt8(ascii: "-")) }
            appendDecimal(UInt64(pid.magnitude), into: &out)
            appendStatic(",\"transport\":\"unix\",\"uid\":", into: &out)
            appendDecimal(UInt64(uid), into: &out)
            out.append(UInt8(ascii: "}"))
        case let .http(keyID):
            out.append(contentsOf: Array("{\"key_id\":".utf8))
            JSONEscapes.writeCanonicalString(keyID, into: &out)
            out.append(contentsOf: Array(",\"transport\":\"http\"}".utf8))
        }
    }
}

/// An event that parsed and validated; valid until the builder's next `prepare`.
public struct PreparedEvent {
    public let agentID: String
    /// The id the writer sent, if any (retries are recognised by it).
    public let id: String?
    fileprivate let base: UnsafeRawPointer?
    fileprivate let count: Int
}

/// The chain facts of a sealed record, for the writer's response.
public struct SealedRecord: Sendable, Equatable {
    public var id: String
    public var agentID: String
    public var position: ChainPosition
    public var hash: SHA256Digest
}

/// Builds records for one host. Keeps its scratch buffers between events; not
/// thread-safe: one per ingest thread.
public final class RecordBuilder {
    public let hostID: String
    /// FORMAT.md §2: a whole record is at most 1 MiB in canonical form.
    public var maxRecordBytes: Int = 1 << 20
    public var limits = JSONLimits.default

    private var tape = JSONTape()
    private var fields = RecordFieldSlots()
    private var ids = UUIDv7Generator()
    private let hasher = SHA256Hasher()
    private var body: [UInt8] = []
    private let hostIDJSON: [UInt8]
    private var lastOrigin: Origin?
    private var lastOriginJSON: [UInt8] = []

    public init(hostID: String) {
        self.hostID = hostID
        var encoded: [UInt8] = []
        JSONEscapes.writeCanonicalString(hostID, into: &encoded)
        hostIDJSON = encoded
    }

    /// Parses and validates one event. `event` must stay valid and unchanged until
    /// `seal` for it returns.
    public func prepare(_ event: UnsafeRawBufferPointer) throws(RecordError) -> PreparedEvent {
        do {
            try tape.parse(event, limits: limits)
        } catch {
            throw RecordError(.malformedJSON, error.description)
        }
        try RecordValidator.validate(tape, bytes: event, mode: .event, into: &fields)
        let agentID = tape.string(fields[.agentID]!, bytes: event)
        let id = fields[.id].map { tape.string($0, bytes: event) }
        return PreparedEvent(agentID: agentID, id: id, base: event.baseAddress, count: event.count)
    }

    /// Builds the record of a prepared event at the next position of its chain, appends
    /// it (canonical, one line without the newline) to `out` and advances `chains`.
    /// Nothing changes when it throws (only `.tooLarge`).
    public func seal(_ event: PreparedEvent, bytes: UnsafeRawBufferPointer, receivedAtMicros: Int64,
                     origin: Origin, chains: inout HostChains, into out: inout [UInt8]) throws(RecordError) -> SealedRecord {
        precondition(event.base == bytes.baseAddress && event.count == bytes.count,
                     "seal must get the bytes that prepare parsed")
        let position = chains.nextPosition(for: event.agentID)
        var id = event.id
        // Work on locals: class properties would be checked for exclusive access on every append.
        let tape = self.tape, fields = self.fields, hostIDJSON = self.hostIDJSON
        var body: [UInt8] = []
        swap(&body, &self.body)
        var ids = self.ids
        defer {
            swap(&body, &self.body)
            self.ids = ids
        }
        body.removeAll(keepingCapacity: true)
        var receivedAt: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)  // 27 bytes of text, formatted once
        var receivedAtCount = 0
        var hashAt = 0
        body.append(UInt8(ascii: "{"))
        for field in RecordField.allCases {
            if field == .hash {
                // agent_id always precedes and host_id always follows: the host_id member
                // starts right after the comma written next.
                hashAt = body.count + 1
                continue
            }
            let valueStart = body.count
            if body.count > 1 { body.append(UInt8(ascii: ",")) }
            appendStatic(field.quotedName, into: &body)
            if let node = fields[field] {
                CanonicalJSON.write(tape, node, bytes: bytes, into: &body)
                continue
            }
            switch field {
            case .id:
                body.append(UInt8(ascii: "\""))
                let idStart = body.count
                ids.write(unixMillis: UInt64(max(0, receivedAtMicros / 1000)), into: &body)
                id = String(decoding: body[idStart...], as: UTF8.self)
                body.append(UInt8(ascii: "\""))
            case .schemaVersion: body.append(contentsOf: Array("\"1.0\"".utf8))
            case .hostID: body.append(contentsOf: hostIDJSON)
            case .hostSeq: appendDecimal(position.hostSeq, into: &body)
            case .sequence: appendDecimal(position.sequence, into: &body)
            case .origin:
                // Consecutive events mostly come from the same writer: reuse its encoding.
                if origin != lastOrigin {
                    lastOrigin = origin
                    lastOriginJSON.removeAll(keepingCapacity: true)
                    origin.write(into: &lastOriginJSON)
                }
                body.append(contentsOf: lastOriginJSON)
            case .prevHash:
                body.append(UInt8(ascii: "\""))
                position.prevHash.appendHex(to: &body)
                body.append(UInt8(ascii: "\""))
            case .receivedAt, .timestamp:
                body.append(UInt8(ascii: "\""))
                if receivedAtCount == 0 {
                    let textStart = body.count
                    RFC3339.writeUTCMicroseconds(receivedAtMicros, into: &body)
                    receivedAtCount = body.count - textStart
                    body.withUnsafeBytes { whole in
                        withUnsafeMutableBytes(of: &receivedAt) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: whole[textStart..<textStart + receivedAtCount])) }
                    }
                } else {
                    withUnsafeBytes(of: &receivedAt) { body.append(contentsOf: UnsafeRawBufferPointer(rebasing: $0[..<receivedAtCount])) }
                }
                body.append(UInt8(ascii: "\""))
            default:
                body.removeSubrange(valueStart...)  // an absent optional field
            }
        }
        body.append(UInt8(ascii: "}"))

        let total = body.count + Self.hashMemberLength
        guard total <= maxRecordBytes else {
            throw RecordError(.tooLarge, "the record would be \(total) bytes in canonical form; the limit is \(maxRecordBytes)")
        }
        let hasher = self.hasher
        let hash = body.withUnsafeBytes { hasher.hash($0) }
        out.reserveCapacity(out.count + total)
        body.withUnsafeBytes { whole in
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: whole[..<hashAt]))
            out.append(contentsOf: Self.hashMemberPrefix)
            hash.appendHex(to: &out)
            out.append(contentsOf: Self.hashMemberSuffix)
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: whole[hashAt...]))
        }
        // `position` came from nextPosition on this same `chains` above: it continues the chain.
        chains.commit(agentID: event.agentID, at: position, hash: hash)
        return SealedRecord(id: id!, agentID: event.agentID, position: position, hash: hash)
    }

    /// Prepares and seals in one step.
    public func append(_ event: UnsafeRawBufferPointer, receivedAtMicros: Int64, origin: Origin,
                       chains: inout HostChains, into out: inout [UInt8]) throws(RecordError) -> SealedRecord {
        let prepared = try prepare(event)
        return try seal(prepared, bytes: event, receivedAtMicros: receivedAtMicros, origin: origin,
                        chains: &chains, into: &out)
    }

    static let hashMemberPrefix: [UInt8] = Array("\"hash\":\"".utf8)
    static let hashMemberSuffix: [UInt8] = Array("\",".utf8)
    static let hashMemberLength = hashMemberPrefix.count + 64 + hashMemberSuffix.count
}

@inline(__always)
func appendStatic(_ text: StaticString, into out: inout [UInt8]) {
    out.append(contentsOf: UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
}

@inline(__always)
func appendDecimal(_ value: UInt64, into out: inout [UInt8]) {
    if value < 10 {
        out.append(UInt8(48 + value))
        return
    }
    var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                 UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
        (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    var count = 0
    var v = value
    withUnsafeMutableBytes(of: &digits) { buffer in
        while v > 0 {
            buffer[19 - count] = UInt8(48 + v % 10)
            v /= 10
            count += 1
        }
        out.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[(20 - count)...]))
    }
}
