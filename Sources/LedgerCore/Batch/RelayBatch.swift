// The relay batch: how ledger-relay hands a contiguous range of a host's stream
// to ledger-server (docs/FORMAT.md §5, pinned by
// Tests/LedgerCoreTests/RelayBatchTests.swift golden vector).
//
//   body      = record line || "\n" || record line || "\n" …   (canonical records, host_seq ascending, contiguous)
//   on wire   = zlib(body)                                    (Content-Encoding: deflate, RFC 1950)
//   message   = "ledger-relay-batch-v1" 0x0A host_id 0x0A decimal(batch_seq) 0x0A hex(SHA-256(body))
//   signature = Ed25519(host key, message)                    (X-Ledger-Signature, standard base64)
//
// batch_seq is the host_seq of the batch's first record, so batches are numbered
// by the host's own stream and a replay is recognisable by its range.

/// Header names and the signed message of a relay batch. Pure: no I/O.
public enum RelayBatch {
    public static let hostHeader = "X-Ledger-Host"
    public static let batchSeqHeader = "X-Ledger-Batch-Seq"
    public static let bodySHA256Header = "X-Ledger-Body-SHA256"
    public static let signatureHeader = "X-Ledger-Signature"
    public static let contentEncoding = "deflate"
    public static let contentType = "application/x-ndjson"
    public static let domain = "ledger-relay-batch-v1"

    /// The bytes the host signs:
    /// `"ledger-relay-batch-v1\n" || host_id || "\n" || decimal(batch_seq) || "\n" || hex(SHA-256(body))`.
    /// No trailing newline. `hostID` must be valid per `isValidHostID`.
    public static func signingMessage(hostID: String, batchSeq: UInt64, bodySHA256: SHA256Digest) -> [UInt8] {
        signingMessage(domain: domain, fields: [hostID, String(batchSeq)], bodySHA256: bodySHA256)
    }

    /// Every version's signed message: the domain, each field, then the body's digest in hex,
    /// separated by newlines, no trailing newline.
    static func signingMessage(domain: String, fields: [String], bodySHA256: SHA256Digest) -> [UInt8] {
        var out = Array(domain.utf8)
        for field in fields {
            out.append(0x0A)
            out.append(contentsOf: field.utf8)
        }
        out.append(0x0A)
        bodySHA256.appendHex(to: &out)
        return out
    }

    /// Host ids that can appear in the message unambiguously and in a header: 1 to 256 bytes of
    /// printable ASCII other than space (no separator can be forged).
    public static func isValidHostID(_ hostID: String) -> Bool {
        let bytes = Array(hostID.utf8)
        return !bytes.isEmpty && bytes.count <= 256 && bytes.allSatisfy { $0 > 0x20 && $0 < 0x7F }
    }

    /// Parses a batch_seq header: decimal, no sign or leading zeros, 1 … 2^53-1.
    public static func parseBatchSeq(_ text: String) -> UInt64? {
        guard !text.isEmpty, text.count <= 16, text.first != "0", text.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }),
              let value = UInt64(text), value >= 1, value <= 9_007_199_254_740_991 else { return nil }
        return value
    }

    /// The uncompressed body of `lines` (each a canonical record without its newline).
    public static func body(lines: [[UInt8]]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(lines.reduce(0) { $0 + $1.count + 1 })
        for line in lines {
            out.append(contentsOf: line)
            out.append(0x0A)
        }
        return out
    }

    /// Enrollment proof: the relay signs
    /// `"ledger-relay-enroll-v1\n" || host_id || "\n" || public key (base64) || "\n" || token`.
    public static func enrollmentMessage(hostID: String, publicKeyBase64: String, token: String) -> [UInt8] {
        Array("ledger-relay-enroll-v1\n\(hostID)\n\(publicKeyBase64)\n\(token)".utf8)
    }
}

/// Why a relay batch body is refused before any storage decision.
public enum RelayBatchBodyError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The body is empty: a relay never sends an empty batch.
    case empty
    /// The body does not end with a newline (truncated in transit).
    case unterminated
    /// Line `line` (1-based) is not a valid stored record on its own (malformed, not canonical, bad hash).
    case badRecord(line: Int, RecordLineFailure)
    /// A record names another host than the batch header.
    case wrongHost(line: Int, hostID: String)
    /// host_seq does not run batch_seq, batch_seq+1, … line by line.
    case notContiguous(line: Int, expected: UInt64, got: UInt64)

    public var description: String {
        switch self {
        case .empty: "the batch body is empty"
        case .unterminated: "the batch body does not end with a newline"
        case let .badRecord(line, failure): "line \(line): \(failure)"
        case let .wrongHost(line, host): "line \(line): record of host \(host), not the batch's host"
        case let .notContiguous(line, expected, got): "line \(line): host_seq \(got), expected \(expected)"
        }
    }
}

extension RelayBatch {
    /// Splits and checks a body: every line a stored record whose hash recomputes, of `hostID`,
    /// with host_seq contiguous from `batchSeq`. Calls `each` with every line's bytes and facts.
    public static func readBody(_ body: UnsafeRawBufferPointer, hostID: String, batchSeq: UInt64,
                                reader: RecordReader,
                                each: (UnsafeRawBufferPointer, RecordLineFacts) -> Void) throws(RelayBatchBodyError) {
        guard body.count > 0 else { throw .empty }
        guard body[body.count - 1] == 0x0A else { throw .unterminated }
        let host = Array(hostID.utf8)
        var start = 0
        var lineNumber = 0
        var expected = batchSeq
        while start < body.count {
            var end = start
            while body[end] != 0x0A { end += 1 }
            lineNumber += 1
            let line = UnsafeRawBufferPointer(rebasing: body[start..<end])
            let facts: RecordLineFacts
            do { facts = try reader.check(line) } catch { throw .badRecord(line: lineNumber, error) }
            guard facts.hostID.withValue(in: line, { $0.elementsEqual(host) }) else {
                let other = facts.hostID.withValue(in: line) { String(decoding: $0, as: UTF8.self) }
                throw .wrongHost(line: lineNumber, hostID: other)
            }
            guard facts.hostSeq == expected else {
                throw .notContiguous(line: lineNumber, expected: expected, got: facts.hostSeq)
            }
            expected += 1
            each(line, facts)
            start = end + 1
        }
    }
}
