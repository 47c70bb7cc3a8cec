import LedgerCore

// Records checked and ready to store, in the shape the writer wants.
//
// The single writer thread is the one serial stage of ingest, so everything that can be done
// before it is done on the HTTP worker that received the request: decompressing, re-hashing,
// parsing the indexed fields, converting the timestamp. What reaches the writer is one byte
// buffer (the decompressed batch body itself, with the indexed text fields appended) and one
// fixed-size row per record whose fields are offsets into it. The writer binds those bytes to
// SQLite without copying them (SQLITE_STATIC inside one `withUnsafeBytes`) and touches no
// reference-counted object per record.

/// A byte range of `IngestRows.bytes`; `count == -1` stands for SQL NULL.
public struct ByteSpan: Sendable, Equatable {
    public var start: Int32
    public var count: Int32
    public static let null = ByteSpan(start: 0, count: -1)
    public var isNull: Bool { count < 0 }
}

/// The facts of one record that are stored beside its canonical bytes.
public struct IngestRow: Sendable {
    /// The canonical line (without its newline).
    public var line: ByteSpan
    public var id: ByteSpan
    /// Index into `IngestRows.agents` (the chain's agent_id).
    public var agent: Int32
    public var sessionID: ByteSpan
    public var actionType: ByteSpan
    public var actionStatus: ByteSpan
    public var sequence: UInt64
    public var hostSeq: UInt64
    public var prevHash: SHA256Digest
    public var hash: SHA256Digest
    /// `timestamp` in microseconds since the epoch (UTC), for range queries.
    public var timestampMicros: Int64
}

/// Checked records of one request: one buffer, one row per record, the distinct agents.
public struct IngestRows: Sendable {
    /// Record lines and indexed text fields; rows point into it.
    public private(set) var bytes: [UInt8]
    public private(set) var rows: [IngestRow] = []
    /// Distinct agent ids in order of first appearance, with their bytes in `bytes`.
    public private(set) var agents: [String] = []
    public private(set) var agentSpans: [ByteSpan] = []
    /// Agent numbers by a hash of the agent id's bytes (FNV-1a): finding a row's agent costs
    /// no String. Colliding ids are told apart by their bytes (`agentNumber`).
    private var agentsByHash: [UInt64: Int32] = [:]

    /// Rows over `body`: lines are added with `appendLine(start:count:facts:)` as ranges of it.
    /// The body is taken as is (no copy); only text that needs unescaping is appended to it.
    public init(body: [UInt8], expectedRows: Int = 0) {
        bytes = body
        rows.reserveCapacity(expectedRows)
    }

    public init() { bytes = [] }

    public var count: Int { rows.count }
    public var isEmpty: Bool { rows.isEmpty }

    /// Adds a checked record whose line is already in `bytes` at `start..<start+count`; its
    /// text fields become ranges of the line unless they are escaped.
    public mutating func appendLine(start: Int, count: Int, facts: RecordLineFacts) {
        func span(_ text: RecordLineText?) -> ByteSpan {
            guard let text else { return .null }
            guard text.isEscaped else { return ByteSpan(start: Int32(start) + text.start, count: text.count) }
            let decoded = bytes.withUnsafeBytes { all in
                text.withValue(in: UnsafeRawBufferPointer(rebasing: all[start..<start + count])) { Array($0) }
            }
            return appendBytes(decoded)
        }
        rows.append(IngestRow(
            line: ByteSpan(start: Int32(start), count: Int32(count)), id: span(facts.id),
            agent: agentNumber(span(facts.agentID)), sessionID: span(facts.sessionID),
            actionType: span(facts.actionType), actionStatus: span(facts.actionStatus),
            sequence: facts.sequence, hostSeq: facts.hostSeq, prevHash: facts.prevHash, hash: facts.hash,
            timestampMicros: facts.timestampMicros))
    }

    /// Adds a record whose line is already in `bytes` at `start..<start+count`.
    public mutating func appendLine(start: Int, count: Int, facts: StoredRecord) {
        let line = ByteSpan(start: Int32(start), count: Int32(count))
        let agent = agentNumber(appendText(facts.agentID))
        rows.append(IngestRow(
            line: line, id: appendText(facts.id), agent: agent, sessionID: appendText(facts.sessionID),
            actionType: appendText(facts.actionType), actionStatus: appendText(facts.actionStatus),
            sequence: facts.sequence, hostSeq: facts.hostSeq, prevHash: facts.prevHash, hash: facts.hash,
            timestampMicros: RFC3339.microseconds(facts.timestamp) ?? 0))
    }

    /// The number of the agent whose id is at `span`, registering it on first sight.
    private mutating func agentNumber(_ span: ByteSpan) -> Int32 {
        bytes.withUnsafeBytes { all -> Int32? in
            let wanted = UnsafeRawBufferPointer(rebasing: all[Int(span.start)..<Int(span.start + span.count)])
            func matches(_ agent: Int32) -> Bool {
                let known = agentSpans[Int(agent)]
                return wanted.elementsEqual(UnsafeRawBufferPointer(
                    rebasing: all[Int(known.start)..<Int(known.start + known.count)]))
            }
            if let last = rows.last?.agent, matches(last) { return last }
            let hash = Self.fnv1a(wanted)
            if let known = agentsByHash[hash] {
                if matches(known) { return known }
                // A hash collision: rare enough for a scan.
                return (0..<Int32(agentSpans.count)).first(where: matches)
            }
            return nil
        } ?? registerAgent(span)
    }

    private mutating func registerAgent(_ span: ByteSpan) -> Int32 {
        let number = Int32(agents.count)
        let text = bytes.withUnsafeBytes { all in
            String(decoding: all[Int(span.start)..<Int(span.start + span.count)], as: UTF8.self)
        }
        let hash = bytes.withUnsafeBytes { Self.fnv1a(UnsafeRawBufferPointer(rebasing: $0[Int(span.start)..<Int(span.start + span.count)])) }
        if agentsByHash[hash] == nil { agentsByHash[hash] = number }
        agents.append(text)
        agentSpans.append(span)
        return number
    }

    private static func fnv1a(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return hash
    }

    /// Adds a record whose line is not in `bytes` yet (direct ingest): the line is copied in.
    public mutating func append(line: [UInt8], facts: StoredRecord) {
        let start = bytes.count
        bytes.append(contentsOf: line)
        appendLine(start: start, count: line.count, facts: facts)
    }

    /// The agent id of `row`.
    public func agentID(_ row: IngestRow) -> String { agents[Int(row.agent)] }

    /// The canonical line of `row`, copied out.
    public func line(_ row: IngestRow) -> [UInt8] {
        Array(bytes[Int(row.line.start)..<Int(row.line.start + row.line.count)])
    }

    private mutating func appendText(_ text: String?) -> ByteSpan {
        guard let text else { return .null }
        let start = bytes.count
        bytes.append(contentsOf: text.utf8)
        return ByteSpan(start: Int32(start), count: Int32(bytes.count - start))
    }

    private mutating func appendBytes(_ text: [UInt8]) -> ByteSpan {
        let start = bytes.count
        bytes.append(contentsOf: text)
        return ByteSpan(start: Int32(start), count: Int32(text.count))
    }
}
