import Foundation
import LedgerCore
import Testing

@Suite("relay batch format (docs/FORMAT.md §5)")
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

@Suite("RecordReader.check: the ingest path's byte-level facts")
struct RecordLineFactsTests {
    /// Agent and session ids with escapes (`"`, `\`, a control character) and without: every
    /// position `check` gives must decode to what `read` gives as Strings.
    @Test func checkGivesTheSameFactsAsRead() throws {
        let host = SimulatedHost(hostID: "h", key: try Ed25519PrivateKey())
        let agents = [#"q\"uote"#, #"back\\slash"#, "plain", "ünïcode"]
        let sessions = [#"tab\tsession"#, "s-1", #"\u0001ctl"#]
        let lines = host.records(24, agents: agents.count, agentJSON: { agents[$0] },
                                 sessionJSON: { sessions[$0 % sessions.count] })
        let reader = RecordReader()
        var escapedAgents = 0
        for line in lines {
            let record = try reader.read(line)
            try line.withUnsafeBytes { bytes in
                let facts = try reader.check(bytes)
                func text(_ value: RecordLineText?) -> String? {
                    value?.withValue(in: bytes) { String(decoding: $0, as: UTF8.self) }
                }
                #expect(text(facts.id) == record.id)
                #expect(text(facts.agentID) == record.agentID)
                #expect(text(facts.hostID) == record.hostID)
                #expect(text(facts.sessionID) == record.sessionID)
                #expect(text(facts.actionType) == record.actionType)
                #expect(text(facts.actionStatus) == record.actionStatus)
                #expect(facts.sequence == record.sequence && facts.hostSeq == record.hostSeq)
                #expect(facts.prevHash == record.prevHash && facts.hash == record.hash)
                #expect(facts.timestampMicros == RFC3339.microseconds(record.timestamp))
                #expect(!facts.id.isEscaped && !facts.hostID.isEscaped)
                if facts.agentID.isEscaped { escapedAgents += 1 }
            }
        }
        #expect(Set(lines.map { try! reader.read($0).agentID }) == [#"q"uote"#, #"back\slash"#, "plain", "ünïcode"])
        #expect(escapedAgents == 12)
    }

    @Test func checkRefusesWhatReadRefuses() throws {
        let host = SimulatedHost(hostID: "h", key: try Ed25519PrivateKey())
        var tampered = host.records(1)[0]
        tampered[tampered.count - 3] ^= 1
        let spaced = Array(String(decoding: host.records(1)[0], as: UTF8.self)
            .replacingOccurrences(of: "\"sequence\":", with: "\"sequence\": ").utf8)
        let reader = RecordReader()
        for (line, name) in [(tampered, "tampered"), (spaced, "not canonical"), (Array("{}".utf8), "empty")] {
            let checked = line.withUnsafeBytes { bytes in
                do throws(RecordLineFailure) { _ = try reader.check(bytes); return true } catch { return false }
            }
            #expect(!checked, "\(name)")
            #expect(throws: RecordLineFailure.self) { try reader.read(line) }
        }
    }
}
