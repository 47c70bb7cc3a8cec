import LedgerCore

/// A batch ready to send: compressed, hashed and signed. Immutable; sent as is on every retry,
/// so a replay after a crash carries the same range (the server recognises it by hash).
struct SealedBatch: Sendable {
    var firstHostSeq: UInt64
    var lastHostSeq: UInt64
    /// Declared in X-Ledger-Predecessor and signed (docs/FORMAT.md §5): the server applies the
    /// batch only after it holds this host_seq, so batches in flight together stay in order.
    var predecessorHostSeq: UInt64
    var count: Int
    /// Uncompressed body size, for the compression ratio.
    var bodyBytes: Int
    /// zlib (RFC 1950) of the body.
    var compressed: [UInt8]
    /// Lowercase hex SHA-256 of the uncompressed body (X-Ledger-Body-SHA256).
    var bodySHA256: String
    /// Standard base64 Ed25519 signature of the v2 batch message (X-Ledger-Signature).
    var signature: String
    /// The cut it belongs to (`PendingBatch.cut`).
    var cut = 0
}

/// Compresses, hashes and signs batches with the host key.
final class BatchSealer {
    let key: Ed25519PrivateKey
    let hostID: String
    let level: Int32
    private let hasher = SHA256Hasher()

    init(key: Ed25519PrivateKey, hostID: String, level: Int32) {
        self.key = key
        self.hostID = hostID
        self.level = level
    }

    func seal(_ batch: PendingBatch) throws -> SealedBatch {
        let digest = batch.body.withUnsafeBytes { hasher.hash($0) }
        let compressed = try Zlib.compress(batch.body, level: level)
        let message = RelayBatch.signingMessage(hostID: hostID, batchSeq: batch.firstHostSeq,
                                                predecessorHostSeq: batch.predecessorHostSeq, bodySHA256: digest)
        let signature = try key.signature(for: message)
        return SealedBatch(firstHostSeq: batch.firstHostSeq, lastHostSeq: batch.lastHostSeq,
                           predecessorHostSeq: batch.predecessorHostSeq, count: batch.count,
                           bodyBytes: batch.body.count, compressed: compressed, bodySHA256: digest.hex,
                           signature: Base64.encode(signature), cut: batch.cut)
    }
}
