// The relay protocol's endpoints. The batch itself (headers, signed message,
// body) is LedgerCore's `RelayBatch` (docs/RELAY-BATCH.md):
//
//   body      = record line || "\n" || record line || "\n" …   (host_seq ascending, contiguous)
//   on wire   = zlib(body)                                    (Content-Encoding: deflate, RFC 1950)
//   message   = "ledger-relay-batch-v1" 0x0A host_id 0x0A decimal(batch_seq) 0x0A hex(SHA-256(body))
//   signature = Ed25519(host key, message)                    (X-Ledger-Signature, standard base64)

/// Paths of the server's relay routes.
enum BatchMessage {
    static let batchPath = "/v1/relay/batches"
    static let enrollPath = "/v1/relay/enroll"
}
