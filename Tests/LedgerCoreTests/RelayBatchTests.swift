import LedgerCore
import Testing

@Suite("relay batch format (docs/RELAY-BATCH.md)")
struct RelayBatchTests {
    /// Golden vector: the exact signed bytes for host "host-a", batch_seq 42, body "" (SHA-256 of nothing).
    @Test func signingMessageBytesAreFrozen() {
        let empty = SHA256Hasher().hash([UInt8]())
        let message = RelayBatch.signingMessage(hostID: "host-a", batchSeq: 42, bodySHA256: empty)
        let expected = "ledger-relay-batch-v1\nhost-a\n42\n"
            + "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        #expect(message == Array(expected.utf8))
        #expect(message.count == 22 + 7 + 3 + 64)
    }

    @Test func encodedBatchVerifiesAndAnyChangeBreaksTheSignature() throws {
        let key = try Ed25519PrivateKey()
        let host = SimulatedHost(hostID: "h", key: key)
        let batch = try host.nextBatch(3)
        let body = try Zlib.decompress(batch.compressedBody, maxOutputBytes: 1 << 20)
        let message = RelayBatch.signingMessage(hostID: "h", batchSeq: 1, bodySHA256: SHA256Hasher().hash(body))
        let signature = try #require(batch.headers.first { $0.0 == RelayBatch.signatureHeader }.map { $0.1 })
        let raw = try #require(Base64.decodeForTest(signature))
        #expect(key.publicKey.isValidSignature(raw, for: message))
        let otherSeq = RelayBatch.signingMessage(hostID: "h", batchSeq: 2, bodySHA256: SHA256Hasher().hash(body))
        #expect(!key.publicKey.isValidSignature(raw, for: otherSeq))
    }

    @Test func bodyReaderRefusesBrokenBatches() throws {
        let host = SimulatedHost(hostID: "h", key: try Ed25519PrivateKey())
        let lines = host.records(3)
        func check(_ body: [UInt8], seq: UInt64 = 1, hostID: String = "h") -> RelayBatchBodyError? {
            body.withUnsafeBytes { bytes in
                do throws(RelayBatchBodyError) {
                    try RelayBatch.readBody(bytes, hostID: hostID, batchSeq: seq, reader: RecordReader()) { _, _ in }
                    return nil
                } catch { return error }
            }
        }
        #expect(check(RelayBatch.body(lines: lines)) == nil)
        #expect(check([]) == .empty)
        #expect(check(Array(RelayBatch.body(lines: lines).dropLast())) == .unterminated)
        #expect(check(RelayBatch.body(lines: lines), seq: 2) == .notContiguous(line: 1, expected: 2, got: 1))
        #expect(check(RelayBatch.body(lines: lines), hostID: "other") == .wrongHost(line: 1, hostID: "h"))
        #expect(check(RelayBatch.body(lines: [lines[0], lines[2]])) == .notContiguous(line: 2, expected: 2, got: 3))
        var tampered = lines[1]
        tampered[tampered.count - 3] ^= 1
        if case .badRecord(line: 2, _)? = check(RelayBatch.body(lines: [lines[0], tampered, lines[2]])) {} else {
            Issue.record("a tampered record must be refused")
        }
    }

    @Test func batchSeqAndHostIDParsingIsStrict() {
        #expect(RelayBatch.parseBatchSeq("1") == 1)
        for bad in ["", "0", "01", "-1", "+1", "1.0", "9007199254740992", " 1"] {
            #expect(RelayBatch.parseBatchSeq(bad) == nil, "\(bad)")
        }
        #expect(RelayBatch.isValidHostID("web-1.example:relay"))
        for bad in ["", "a b", "a\nb", String(repeating: "x", count: 257), "é"] {
            #expect(!RelayBatch.isValidHostID(bad))
        }
    }
}

extension Base64 {
    static func decodeForTest(_ text: String) -> [UInt8]? { try? decode(text, byteCount: 64, what: "signature") }
}
