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
    private var agentIndex: [String: Int32] = [:]

    /// Rows over `body`: lines are added with `appendLine(at:facts:)` as ranges of it (no copy).
    public init(body: [UInt8], expectedRows: Int = 0) {
        bytes = body
        bytes.reserveCapacity(body.count + expectedRows * 64)
        rows.reserveCapacity(expectedRows)
    }

    public init() { bytes = [] }

    public var count: Int { rows.count }
    public var isEmpty: Bool { rows.isEmpty }

    /// Adds a record whose line is already in `bytes` at `start..<start+count`.
    public mutating func appendLine(start: Int, count: Int, facts: StoredRecord) {
        let line = ByteSpan(start: Int32(start), count: Int32(count))
        let agent: Int32
        if let known = agentIndex[facts.agentID] {
            agent = known
        } else {
            agent = Int32(agents.count)
            agentIndex[facts.agentID] = agent
            agents.append(facts.agentID)
            agentSpans.append(appendText(facts.agentID))
        }
        rows.append(IngestRow(
            line: line, id: appendText(facts.id), agent: agent, sessionID: appendText(facts.sessionID),
            actionType: appendText(facts.actionType), actionStatus: appendText(facts.actionStatus),
            sequence: facts.sequence, hostSeq: facts.hostSeq, prevHash: facts.prevHash, hash: facts.hash,
            timestampMicros: RFC3339.microseconds(facts.timestamp) ?? 0))
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
}
