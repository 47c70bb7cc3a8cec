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
    fileprivate let base: UnsafeRawPointer?
    fileprivate let count: Int
    // The string nodes themselves: the daemon's hot path never needs these as Strings
    // (a 36-byte id String is a heap allocation per event).
    fileprivate let agentIDNode: JSONNode
    fileprivate let idNode: JSONNode?

    /// The `agent_id` the writer sent, decoded.
    public var agentID: String { Self.decode(agentIDNode, base, count) }
    /// The id the writer sent, if any (retries are recognised by it).
    public var id: String? { idNode.map { Self.decode($0, base, count) } }
    /// Whether the writer sent an id, without decoding it.
    public var hasID: Bool { idNode != nil }

    private static func decode(_ node: JSONNode, _ base: UnsafeRawPointer?, _ count: Int) -> String {
        let bytes = UnsafeRawBufferPointer(start: base, count: count)
        if !node.hasEscapes {
            return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[Int(node.start)..<Int(node.end)]),
                          as: UTF8.self)
        }
        var out: [UInt8] = []
        JSONEscapes.decode(bytes, from: Int(node.start), to: Int(node.end), into: &out)
        return String(decoding: out, as: UTF8.self)
    }
}

/// Where a sealed record's response facts lie in the buffer it was appended to. `id` and
/// `agentID` are the record's canonical JSON strings, quotes included: exactly what a
/// response line carries (RFC 8785 strings are also valid JSON anywhere), so the daemon
/// copies them instead of decoding and escaping them again.
public struct SealedSpans: Sendable, Equatable {
    public var id: Range<Int>
    public var agentID: Range<Int>
    /// The 64 hex digits of `hash` in the record's `hash` member.
    public var hashText: Range<Int>
    public var position: ChainPosition
    public var hash: SHA256Digest
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
    // Unchecked for the same reason as below (each checked read cost ~76 instructions per
    // event); they are set once, before the builder's first event.
    @exclusivity(unchecked) public var maxRecordBytes: Int = 1 << 20
    @exclusivity(unchecked) public var limits = JSONLimits.default

    // Unchecked exclusivity: each dynamic access check cost ~78 instructions, seven per
    // event. Sound because a builder is confined to one thread (see above) and these
    // private properties are never accessed re-entrantly (no callbacks run in between).
    @exclusivity(unchecked) private var tape = JSONTape()
    @exclusivity(unchecked) private var fields = RecordFieldSlots()
    @exclusivity(unchecked) private var ids = UUIDv7Generator()
    private let hasher = SHA256Hasher()
    @exclusivity(unchecked) private var body = ByteWriter(capacity: 4096)
    private let hostIDJSON: [UInt8]
    @exclusivity(unchecked) private var lastOrigin: Origin?
    @exclusivity(unchecked) private var lastOriginJSON: [UInt8] = []
    @exclusivity(unchecked) private var agentScratch = ByteWriter(capacity: 256)
    // The daemon stamps every line of one read with the same time: format it once per read.
    @exclusivity(unchecked) private var receivedAtCachedMicros: Int64 = .min
    @exclusivity(unchecked) private var receivedAtText = [UInt8](repeating: 0, count: RFC3339.utcMicrosecondsLength)

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
        return PreparedEvent(base: event.baseAddress, count: event.count, agentIDNode: tape[fields[.agentID]!],
                             idNode: fields[.id].map { tape[$0] })
    }

    /// Builds the record of a prepared event at the next position of its chain, appends
    /// it (canonical, one line without the newline) to `out` and advances `chains`.
    /// Nothing changes when it throws (only `.tooLarge`).
    public func seal(_ event: PreparedEvent, bytes: UnsafeRawBufferPointer, receivedAtMicros: Int64,
                     origin: Origin, chains: inout HostChains, into out: inout [UInt8]) throws(RecordError) -> SealedRecord {
        let spans = try sealSpans(event, bytes: bytes, receivedAtMicros: receivedAtMicros, origin: origin,
                                  chains: &chains, into: &out)
        // The id's canonical form has no escapes (a canonical UUID): its text is between the quotes.
        let id = out.withUnsafeBytes {
            String(decoding: UnsafeRawBufferPointer(rebasing: $0[(spans.id.lowerBound + 1)..<(spans.id.upperBound - 1)]),
                   as: UTF8.self)
        }
        return SealedRecord(id: id, agentID: event.agentID, position: spans.position, hash: spans.hash)
    }

    /// `seal`, returning where the response's facts lie in `out` instead of Strings.
    public func sealSpans(_ event: PreparedEvent, bytes: UnsafeRawBufferPointer, receivedAtMicros: Int64,
                          origin: Origin, chains: inout HostChains,
                          into out: inout [UInt8]) throws(RecordError) -> SealedSpans {
        precondition(event.base == bytes.baseAddress && event.count == bytes.count,
                     "seal must get the bytes that prepare parsed")
        // The chain is found by the agent_id's UTF-8: the event's own bytes when it has no
        // escapes (nearly always), else decoded into scratch.
        let agentNode = event.agentIDNode
        var agentName = UnsafeRawBufferPointer(rebasing: bytes[Int(agentNode.start)..<Int(agentNode.end)])
        if agentNode.hasEscapes {
            agentScratch.removeAll()
            JSONEscapes.decode(bytes, from: Int(agentNode.start), to: Int(agentNode.end), sink: &agentScratch)
            // SAFETY: the scratch writer's memory stays put until its next append (next seal).
            agentName = agentScratch.bytes
        }
        let (position, slot) = chains.nextPositionAndSlot(forUTF8: agentName)
        var idSpan = 0..<0, agentIDSpan = 0..<0
        // Work on locals: class properties would be checked for exclusive access on every append.
        let tape = self.tape, fields = self.fields
        var body = self.body
        var ids = self.ids
        defer {
            self.body = body  // it may have grown (moved)
            self.ids = ids
        }
        body.removeAll()
        if receivedAtMicros != receivedAtCachedMicros {
            receivedAtText.withUnsafeMutableBufferPointer {
                RFC3339.writeUTCMicroseconds(receivedAtMicros, to: $0.baseAddress!)
            }
            receivedAtCachedMicros = receivedAtMicros
        }
        let receivedAtText = self.receivedAtText
        // The hash member is written in place with its digits left blank; the hash covers
        // everything but `hashMember` (FORMAT.md §3), and the record leaves in one append.
        var hashMember = 0..<0
        body.append(UInt8(ascii: "{"))
        for field in RecordField.allCases {
            if field == .hash {
                // agent_id (required) always precedes it, so a comma is due.
                let start = body.count
                body.append(",\"hash\":\"")
                _ = body.appendUninitialized(64)
                body.append(UInt8(ascii: "\""))
                hashMember = start..<body.count
                continue
            }
            let valueStart = body.count
            if body.count > 1 { body.append(UInt8(ascii: ",")) }
            body.append(field.quotedName)
            if let node = fields[field] {
                let valueAt = body.count
                CanonicalJSON.write(tape, node, bytes: bytes, into: &body)
                if field == .agentID {
                    agentIDSpan = valueAt..<body.count
                } else if field == .id {
                    idSpan = valueAt..<body.count
                }
                continue
            }
            switch field {
            case .id:
                body.append(UInt8(ascii: "\""))
                let text = body.appendUninitialized(36)
                ids.write(unixMillis: UInt64(max(0, receivedAtMicros / 1000)), to: text)
                body.append(UInt8(ascii: "\""))
                idSpan = (body.count - 38)..<body.count
            case .schemaVersion: body.append("\"1.0\"")
            case .hostID: body.append(hostIDJSON)
            case .hostSeq: appendDecimal(position.hostSeq, into: &body)
            case .sequence: appendDecimal(position.sequence, into: &body)
            case .origin:
                // Consecutive events mostly come from the same writer: reuse its encoding.
                if origin != lastOrigin {
                    lastOrigin = origin
                    lastOriginJSON.removeAll(keepingCapacity: true)
                    origin.write(into: &lastOriginJSON)
                }
                body.append(lastOriginJSON)
            case .prevHash:
                body.append(UInt8(ascii: "\""))
                writeHex(position.prevHash, to: body.appendUninitialized(64))
                body.append(UInt8(ascii: "\""))
            case .receivedAt, .timestamp:
                body.append(UInt8(ascii: "\""))
                body.append(receivedAtText)
                body.append(UInt8(ascii: "\""))
            default:
                body.truncate(to: valueStart)  // an absent optional field
            }
        }
        body.append(UInt8(ascii: "}"))

        let total = body.count
        guard total <= maxRecordBytes else {
            throw RecordError(.tooLarge, "the record would be \(total) bytes in canonical form; the limit is \(maxRecordBytes)")
        }
        let hasher = self.hasher
        let whole = body.bytes
        hasher.reset()
        hasher.update(UnsafeRawBufferPointer(rebasing: whole[..<hashMember.lowerBound]))
        hasher.update(UnsafeRawBufferPointer(rebasing: whole[hashMember.upperBound...]))
        let hash = hasher.finalize()
        // SAFETY: the 64 digit bytes of the hash member lie inside the body.
        writeHex(hash, to: body.base + hashMember.lowerBound + 9)
        let offset = out.count
        out.append(contentsOf: body.bytes)
        // `position` and `slot` came from this same, since untouched `chains` above.
        chains.commit(slot: slot, agentUTF8: agentName, at: position, hash: hash)
        return SealedSpans(id: (idSpan.lowerBound + offset)..<(idSpan.upperBound + offset),
                           agentID: (agentIDSpan.lowerBound + offset)..<(agentIDSpan.upperBound + offset),
                           hashText: (hashMember.lowerBound + 9 + offset)..<(hashMember.lowerBound + 73 + offset),
                           position: position, hash: hash)
    }

    /// Prepares and seals in one step.
    public func append(_ event: UnsafeRawBufferPointer, receivedAtMicros: Int64, origin: Origin,
                       chains: inout HostChains, into out: inout [UInt8]) throws(RecordError) -> SealedRecord {
        let prepared = try prepare(event)
        return try seal(prepared, bytes: event, receivedAtMicros: receivedAtMicros, origin: origin,
                        chains: &chains, into: &out)
    }

    deinit {
        body.deallocate()
        agentScratch.deallocate()
    }
}

@inline(__always)
func appendStatic(_ text: StaticString, into out: inout [UInt8]) {
    out.append(contentsOf: UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
}

/// Writes the 64 lowercase hex digits of `digest` at `text`.
@inline(__always)
func writeHex(_ digest: SHA256Digest, to text: UnsafeMutablePointer<UInt8>) {
    digest.withUnsafeBytes { bytes in
        for index in 0..<32 {
            let byte = bytes[index]
            text[2 * index] = JSONEscapes.hexDigit(byte >> 4)
            text[2 * index + 1] = JSONEscapes.hexDigit(byte & 0x0F)
        }
    }
}

@inline(__always)
func appendDecimal(_ value: UInt64, into out: inout ByteWriter) {
    var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: room for UInt64.max's 20 digits
    withUnsafeMutableBytes(of: &digits) { buffer in
        var v = value
        var i = 24
        repeat {
            i -= 1
            buffer[i] = UInt8(truncatingIfNeeded: 48 &+ v % 10)
            v /= 10
        } while v > 0
        out.append(UnsafeRawBufferPointer(rebasing: buffer[i...]))
    }
}

/// Appends the decimal digits of `value` (no allocation). Shared by record sealing and the
/// daemon's response lines.
@inline(__always)
public func appendDecimal(_ value: UInt64, into out: inout [UInt8]) {
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
