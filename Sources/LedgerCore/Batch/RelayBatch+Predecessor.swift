// The predecessor declaration of a relay batch (docs/FORMAT.md §5, "Predecessor"; pinned by
// Tests/LedgerCoreTests/RelayBatchPredecessorTests.swift golden vector).
//
// A relay with several batches in flight lets batch N+1 reach the server before batch N
// has committed. Without more information the server cannot tell that from records lost
// on the host (a batch starting past the stored host_seq is a host_gap). So the relay
// declares, inside the signed message, the last host_seq it forwarded before this batch:
//
//   X-Ledger-Predecessor = decimal(p)   p = host_seq before the batch's first record that the
//                                       relay has sent (or the server acknowledged); 0 = none;
//                                       p < batch_seq, and p < batch_seq − 1 only across a
//                                       journal gap the relay knows of
//   message   = "ledger-relay-batch-v2" 0x0A host_id 0x0A decimal(batch_seq) 0x0A decimal(p)
//               0x0A hex(SHA-256(body))
//
// The server applies such a batch only once it holds host_seq p; before that the batch
// waits or is answered 503, never recorded as a gap. The declaration is signed (a new
// domain separator, so a v1 signature never verifies as v2 or back): a header an attacker
// could strip or lower would let a delayed batch N turn into a false host_gap incident and
// then a fork.

extension RelayBatch {
    public static let predecessorHeader = "X-Ledger-Predecessor"
    public static let predecessorDomain = "ledger-relay-batch-v2"

    /// The bytes the host signs for a batch that declares its predecessor `predecessorHostSeq`:
    /// `"ledger-relay-batch-v2\n" || host_id || "\n" || decimal(batch_seq) || "\n" ||
    /// decimal(predecessor) || "\n" || hex(SHA-256(body))`. No trailing newline.
    public static func signingMessage(hostID: String, batchSeq: UInt64, predecessorHostSeq: UInt64,
                                      bodySHA256: SHA256Digest) -> [UInt8] {
        signingMessage(domain: predecessorDomain, fields: [hostID, String(batchSeq), String(predecessorHostSeq)],
                       bodySHA256: bodySHA256)
    }

    /// Parses an X-Ledger-Predecessor header for a batch starting at `batchSeq`: decimal, no
    /// sign or leading zeros ("0" itself allowed), below `batchSeq`. Nil when malformed.
    public static func parsePredecessor(_ text: String, batchSeq: UInt64) -> UInt64? {
        let value: UInt64? = text == "0" ? 0 : parseBatchSeq(text)
        guard let value, value < batchSeq else { return nil }
        return value
    }

    /// Compresses and signs `lines` like `encode(lines:hostID:batchSeq:key:level:)`, declaring
    /// `predecessorHostSeq` (v2 message, X-Ledger-Predecessor header).
    public static func encode(lines: [[UInt8]], hostID: String, batchSeq: UInt64, predecessorHostSeq: UInt64,
                              key: Ed25519PrivateKey, level: Int32 = 6) throws -> EncodedRelayBatch {
        let body = body(lines: lines)
        let digest = SHA256Hasher().hash(body)
        let message = signingMessage(hostID: hostID, batchSeq: batchSeq, predecessorHostSeq: predecessorHostSeq,
                                     bodySHA256: digest)
        let signature = try key.signature(for: message)
        let compressed = try Zlib.compress(body, level: level)
        return EncodedRelayBatch(
            compressedBody: compressed, bodySHA256: digest, batchSeq: batchSeq, recordCount: lines.count,
            headers: [
                (hostHeader, hostID), (batchSeqHeader, String(batchSeq)),
                (predecessorHeader, String(predecessorHostSeq)), (bodySHA256Header, digest.hex),
                (signatureHeader, Base64.encode(signature)), ("Content-Encoding", contentEncoding),
                ("Content-Type", contentType),
            ])
    }
}
