import LedgerCore
import Testing

@Suite("relay batch predecessor declaration (docs/FORMAT.md §5)")
struct RelayBatchPredecessorTests {
    /// Golden vector: host "host-a", batch_seq 42, predecessor 41, empty body.
    @Test func signingMessageV2BytesAreFrozen() {
        let empty = SHA256Hasher().hash([UInt8]())
        let message = RelayBatch.signingMessage(hostID: "host-a", batchSeq: 42, predecessorHostSeq: 41,
                                                bodySHA256: empty)
        let expected = "ledger-relay-batch-v2\nhost-a\n42\n41\n"
            + "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        #expect(message == Array(expected.utf8))
        #expect(message != RelayBatch.signingMessage(hostID: "host-a", batchSeq: 42, bodySHA256: empty))
    }

    @Test func predecessorParsingIsStrictAndBelowTheBatch() {
        #expect(RelayBatch.parsePredecessor("0", batchSeq: 1) == 0)
        #expect(RelayBatch.parsePredecessor("41", batchSeq: 42) == 41)
        #expect(RelayBatch.parsePredecessor("5", batchSeq: 42) == 5)
        for bad in ["", "00", "01", "-1", "+1", " 1", "42", "43", "x", "9007199254740992"] {
            #expect(RelayBatch.parsePredecessor(bad, batchSeq: 42) == nil, "\(bad)")
        }
    }
}
