// Building a signed relay batch on the sending side (ledger-relay, the benchmark, tests).

/// A batch ready to POST to /v1/relay/batches.
public struct EncodedRelayBatch: Sendable {
    /// zlib(body): the request body, sent with `Content-Encoding: deflate`.
    public var compressedBody: [UInt8]
    /// SHA-256 of the uncompressed body.
    public var bodySHA256: SHA256Digest
    /// The first host_seq of the batch.
    public var batchSeq: UInt64
    public var recordCount: Int
    /// Header name and value pairs, Content-Encoding included.
    public var headers: [(String, String)]
}

extension RelayBatch {
    /// Compresses and signs `lines` (canonical records of `hostID`, host_seq contiguous from `batchSeq`).
    public static func encode(lines: [[UInt8]], hostID: String, batchSeq: UInt64, key: Ed25519PrivateKey,
                              level: Int32 = 6) throws -> EncodedRelayBatch {
        let body = body(lines: lines)
        let digest = SHA256Hasher().hash(body)
        let signature = try key.signature(for: signingMessage(hostID: hostID, batchSeq: batchSeq, bodySHA256: digest))
        let compressed = try Zlib.compress(body, level: level)
        return EncodedRelayBatch(
            compressedBody: compressed, bodySHA256: digest, batchSeq: batchSeq, recordCount: lines.count,
            headers: [
                (hostHeader, hostID), (batchSeqHeader, String(batchSeq)), (bodySHA256Header, digest.hex),
                (signatureHeader, Base64.encode(signature)), ("Content-Encoding", contentEncoding),
                ("Content-Type", contentType),
            ])
    }
}

/// Generates the records of one simulated host (benchmarks and tests): several agents
/// writing to their chains through the real RecordBuilder.
public final class SimulatedHost {
    public let hostID: String
    /// Settable so that tests can rotate the host key mid-stream.
    public var key: Ed25519PrivateKey
    public private(set) var chains: HostChains
    private let builder: RecordBuilder
    private var clockMicros: Int64 = 1_790_000_000_000_000

    public init(hostID: String, key: Ed25519PrivateKey) {
        self.hostID = hostID
        self.key = key
        self.chains = HostChains(hostID: hostID)
        self.builder = RecordBuilder(hostID: hostID)
    }

    /// The next `count` records (canonical lines), round-robin over `agents` agents.
    /// `agentJSON` and `sessionJSON` spell agent and session number i as the content of a
    /// JSON string (escapes allowed).
    public func records(_ count: Int, agents: Int = 4, padding: Int = 200,
                        agentJSON: (Int) -> String = { "agent-\($0)" },
                        sessionJSON: (Int) -> String = { "s-\($0)" }) -> [[UInt8]] {
        var lines: [[UInt8]] = []
        lines.reserveCapacity(count)
        let filler = String(repeating: "x", count: padding)
        for index in 0..<count {
            clockMicros += 1000
            let agent = agentJSON(Int(chains.lastHostSeq + 1) % agents)
            let event = Array(("{\"agent_id\":\"\(agent)\",\"action_type\":\"TOOL_CALL\",\"action_name\":\"bash\","
                + "\"session_id\":\"\(sessionJSON(index % 7))\",\"action_status\":\"success\",\"labels\":{\"env\":\"bench\"},"
                + "\"action_input\":{\"cmd\":\"\(filler)\"}}").utf8)
            var line: [UInt8] = []
            _ = event.withUnsafeBytes { bytes in
                try! builder.append(bytes, receivedAtMicros: clockMicros, origin: .unix(uid: 1000, gid: 1000, pid: 42),
                                    chains: &chains, into: &line)
            }
            lines.append(line)
        }
        return lines
    }

    /// The next batch of `count` records, signed and compressed.
    public func nextBatch(_ count: Int, agents: Int = 4) throws -> EncodedRelayBatch {
        let first = chains.lastHostSeq + 1
        return try RelayBatch.encode(lines: records(count, agents: agents), hostID: hostID, batchSeq: first, key: key)
    }
}
