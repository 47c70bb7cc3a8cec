// The relay batch on the wire (docs/RELAY-BATCH.md, owned by the server branch):
//
//   body      = record line || "\n" || record line || "\n" …   (host_seq ascending, contiguous)
//   on wire   = zlib(body)                                    (Content-Encoding: deflate, RFC 1950)
//   message   = "ledger-relay-batch-v1" 0x0A host_id 0x0A decimal(batch_seq) 0x0A hex(SHA-256(body))
//   signature = Ed25519(host key, message)                    (X-Ledger-Signature, standard base64)
//
// batch_seq is the host_seq of the batch's first record.
//
// TEMPORARY: LedgerCore/Batch/RelayBatch.swift (server branch) defines the same
// message as `RelayBatch.signingMessage`; when it lands, these two functions
// call it. Tests/LedgerRelayTests/BatchMessageTests.swift pins the bytes so the
// two cannot drift apart unnoticed.

import LedgerCore

/// Header names and signed messages of the relay protocol.
enum BatchMessage {
    static let hostHeader = "X-Ledger-Host"
    static let batchSeqHeader = "X-Ledger-Batch-Seq"
    static let bodySHA256Header = "X-Ledger-Body-SHA256"
    static let signatureHeader = "X-Ledger-Signature"
    static let batchPath = "/v1/relay/batches"
    static let enrollPath = "/v1/relay/enroll"

    /// `"ledger-relay-batch-v1\n" || host_id || "\n" || decimal(batch_seq) || "\n" || hex(SHA-256(body))`.
    static func signingMessage(hostID: String, batchSeq: UInt64, bodySHA256: SHA256Digest) -> [UInt8] {
        var out = Array("ledger-relay-batch-v1\n".utf8)
        out.append(contentsOf: hostID.utf8)
        out.append(0x0A)
        out.append(contentsOf: String(batchSeq).utf8)
        out.append(0x0A)
        bodySHA256.appendHex(to: &out)
        return out
    }

    /// `"ledger-relay-enroll-v1\n" || host_id || "\n" || public key (base64) || "\n" || token`.
    static func enrollmentMessage(hostID: String, publicKeyBase64: String, token: String) -> [UInt8] {
        Array("ledger-relay-enroll-v1\n\(hostID)\n\(publicKeyBase64)\n\(token)".utf8)
    }

    /// Host ids the server accepts in a header: 1 to 256 bytes of printable ASCII, no space.
    static func isValidHostID(_ hostID: String) -> Bool {
        let bytes = Array(hostID.utf8)
        return !bytes.isEmpty && bytes.count <= 256 && bytes.allSatisfy { $0 > 0x20 && $0 < 0x7F }
    }
}
