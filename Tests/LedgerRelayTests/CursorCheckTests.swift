import LedgerCore
import LedgerJournal
import LedgerPosix
@testable import LedgerRelay
import Testing

/// `CursorFile.check`: the relay starts only from a cursor written for the journal it reads.
@Suite struct CursorCheckTests {
    private func refusal(_ cursor: RelayCursor, _ journal: ScratchJournal) -> String? {
        do {
            try CursorFile.check(cursor, path: "/state/cursor", hostID: "unit-host", journal: journal.paths)
            return nil
        } catch let RelayError.cursor(path, reason) {
            #expect(path == "/state/cursor")
            return reason
        } catch {
            Issue.record("unexpected error \(error)")
            return "\(error)"
        }
    }

    @Test func aCursorOfThisJournalPasses() throws {
        let journal = try ScratchJournal()
        try journal.append(10)
        #expect(refusal(RelayCursor(ackedHostSeq: 0, hostID: "unit-host"), journal) == nil)
        #expect(refusal(RelayCursor(ackedHostSeq: 10, hostID: "unit-host"), journal) == nil)
    }

    @Test func aCursorOfAnotherHostIsRefusedNamingBoth() throws {
        let journal = try ScratchJournal()
        try journal.append(10)
        // Even at a position the journal holds: those host_seq values are another host's.
        let reason = try #require(refusal(RelayCursor(ackedHostSeq: 5, hostID: "old-host"), journal))
        #expect(reason.contains("\"old-host\"") && reason.contains("\"unit-host\"") && reason.contains("acked_host_seq 5"))
        #expect(reason.contains("mv /state/cursor /state/cursor.old"))
        // Byte for byte: another spelling of the same name is another host.
        #expect(refusal(RelayCursor(ackedHostSeq: 5, hostID: "unit-host "), journal) != nil)
    }

    @Test func aCursorWithoutHostIDIsRefusedWithTheFix() throws {
        let journal = try ScratchJournal()
        try journal.append(10)
        let reason = try #require(refusal(RelayCursor(ackedHostSeq: 5, hostID: nil), journal))
        #expect(reason.contains("names no host_id") && reason.contains("add \"host_id\":\"unit-host\""))
    }

    @Test func aCursorPastTheJournalIsRefused() throws {
        let journal = try ScratchJournal()
        try journal.append(10)
        let reason = try #require(refusal(RelayCursor(ackedHostSeq: 11, hostID: "unit-host"), journal))
        #expect(reason.contains("acknowledged host_seq 11") && reason.contains("ends at host_seq 10"))
        // An empty journal (ledgerd's first start on a wiped data directory).
        let empty = try ScratchJournal()
        #expect(refusal(RelayCursor(ackedHostSeq: 1, hostID: "unit-host"), empty)?.contains("ends at host_seq 0") == true)
    }

    /// After a power failure the checkpoint (not fsynced) may name less than the relay forwarded,
    /// until ledgerd's recovery rewrites it: the frames on disk still count.
    @Test func aCheckpointBehindTheFramesOnDiskDoesNotStopTheStart() throws {
        let journal = try ScratchJournal()
        try journal.append(15)
        try FileSystem.writeAtomically(DurableCheckpoint.encode(5), to: journal.paths.checkpoint)
        #expect(refusal(RelayCursor(ackedHostSeq: 15, hostID: "unit-host"), journal) == nil)
        #expect(refusal(RelayCursor(ackedHostSeq: 16, hostID: "unit-host"), journal) != nil)
    }

    /// A segment's name hands out every host_seq before it, even before it holds a frame.
    @Test func theNewestSegmentsNameCounts() throws {
        let journal = try ScratchJournal()
        try journal.append(10)
        let name = journal.paths.journal + "/" + SegmentFile.name(firstHostSeq: 21)
        try FileSystem.writeAtomically(SegmentHeader(firstHostSeq: 21, hostID: "unit-host").encoded(), to: name)
        #expect(refusal(RelayCursor(ackedHostSeq: 20, hostID: "unit-host"), journal) == nil)
        #expect(refusal(RelayCursor(ackedHostSeq: 21, hostID: "unit-host"), journal) != nil)
    }
}
