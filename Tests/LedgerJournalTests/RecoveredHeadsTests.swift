import Glibc
import LedgerCore
import LedgerPosix
import Testing
@testable import LedgerJournal

/// Chain heads recovery derives from records that are no longer in a kept segment (a
/// quarantined segment's readable frames) must survive any number of restarts: otherwise the
/// next start rebuilds older heads, and those chains hand out sequences the host already used
/// (a fork the server refuses).
@Suite struct RecoveredHeadsTests {
    /// What happens between the first recovery and the second.
    enum Restart: CaseIterable {
        /// ledgerd started (its writer made the new segment after the quarantined positions)
        /// and stopped before any record came in.
        case writerStartedNothingWritten
        /// ledgerd died right after recovery, before its writer made a segment.
        case crashedAfterRecovery
    }

    /// How the last segment was damaged.
    enum Damage: CaseIterable {
        /// One flipped bit in a frame in the middle: quarantined, every other frame readable.
        case flippedBit
        /// The same, and the last five acknowledged records lost as zeros (a loss on top).
        case flippedBitAndLostTail
    }

    @Test(arguments: Restart.allCases, Damage.allCases)
    func heads_from_a_quarantined_last_segment_survive_a_restart_with_nothing_written(
        restart: Restart, damage: Damage
    ) throws {
        let journal = try TempJournal()
        let factory = RecordFactory()
        do {
            let writer = try JournalWriter(paths: journal.paths, hostID: "host-1", recovered: journal.recover())
            try factory.write(30, to: writer, agents: 3)
        }
        let segment = try journal.segments()[0].path
        let offsets = try frameOffsets(segment)
        #expect(offsets.count == 31)
        var bytes = try fileBytes(segment)
        // host_seq 15 is agent-2's fifth record: no chain's head.
        bytes[Int(offsets[14]) + 40] ^= 0x10
        if damage == .flippedBitAndLostTail {
            for i in Int(offsets[25])..<Int(offsets[30]) { bytes[i] = 0 }
        }
        try writeFile(segment, bytes)

        let first = try journal.recover()
        #expect(first.quarantined.count == 1 && first.segments.isEmpty)
        #expect(first.chains.lastHostSeq == 30)
        if damage == .flippedBit {
            #expect(first.chains.heads == factory.chains.heads)
            #expect(first.lostDurable == nil)
        } else {
            #expect(first.lostDurable == 26...30)
        }
        if restart == .writerStartedNothingWritten {
            let writer = try JournalWriter(paths: journal.paths, hostID: "host-1", recovered: first)
            #expect(writer.segments.map(\.file.firstHostSeq) == [31])
        }

        for _ in 0..<2 {
            let again = try journal.recover()
            #expect(again.quarantined.isEmpty)
            #expect(again.chains.lastHostSeq == 30)
            #expect(again.chains.heads == first.chains.heads)
            if damage == .flippedBit { #expect(again.lostDurable == nil) }
        }

        // The next record of each chain continues it: its sequence + 1, its hash as prev_hash.
        let report = try journal.recover()
        let writer = try JournalWriter(paths: journal.paths, hostID: "host-1", recovered: report)
        try RecordFactory(chains: report.chains).write(3, to: writer, agents: 3)
        var next: [RecordFacts] = []
        let reader = RecordFactsReader()
        try JournalReader(dataDirectory: journal.paths.dataDirectory).read(after: 0) { _, bytes in
            next.append(reader.read(bytes)!)
            return true
        }
        #expect(next.map(\.hostSeq) == [31, 32, 33])
        for record in next {
            let head = first.chains.heads[ExactString(record.agentID)]
            #expect(head != nil, "no head for \(record.agentID)")
            #expect(record.sequence == (head?.sequence ?? 0) + 1, "\(record.agentID) did not continue its chain")
            #expect(record.prevHash == head?.hash, "\(record.agentID) does not link to its head")
        }
    }

    /// A chain whose last records lay only in a quarantined older segment: its head came from
    /// that segment alone, and no later segment brings it back at the next start.
    @Test func a_head_that_only_a_quarantined_older_segment_held_survives_restarts() throws {
        let journal = try TempJournal()
        let factory = RecordFactory()
        do {
            let writer = try JournalWriter(paths: journal.paths, hostID: "host-1", recovered: try journal.recover(),
                                           segmentSize: 4096)
            for _ in 0..<4 { try factory.write(10, to: writer, agents: 3) }
            // From here on agent-2 writes nothing: its head stays where its last record is.
            for _ in 0..<4 { try factory.write(10, to: writer, agents: 2) }
        }
        let lastOfAgent2 = try lastHostSeq(of: "agent-2", in: journal)
        let segments = try journal.segments()
        let holder = segments.last { $0.firstHostSeq <= lastOfAgent2 }!
        #expect(holder != segments.last!, "agent-2's head must lie in an older segment")
        // Damage the holder's first frame unless that is agent-2's head, else its second.
        let offsets = try frameOffsets(holder.path)
        let victim = holder.firstHostSeq == lastOfAgent2 ? 1 : 0
        #expect(offsets.count > victim + 2)
        var bytes = try fileBytes(holder.path)
        bytes[Int(offsets[victim]) + 40] ^= 0x10
        try writeFile(holder.path, bytes)

        let first = try journal.recover()
        #expect(first.quarantined.count == 1)
        #expect(first.chains.heads == factory.chains.heads)
        do { _ = try JournalWriter(paths: journal.paths, hostID: "host-1", recovered: first, segmentSize: 4096) }
        let again = try journal.recover()
        #expect(again.quarantined.isEmpty)
        #expect(again.chains.heads == factory.chains.heads)
        #expect(again.chains.lastHostSeq == factory.chains.lastHostSeq)
        let head = factory.chains.heads[ExactString("agent-2")]!
        #expect(again.chains.nextPosition(for: "agent-2")
                == ChainPosition(sequence: head.sequence + 1, hostSeq: factory.chains.lastHostSeq + 1,
                                 prevHash: head.hash))
    }

    /// The heads reach the disk before the segment leaves the journal. Here the move fails
    /// (quarantine/ is on another filesystem: EXDEV), as a crash at that point would stop it:
    /// the heads on disk already count the segment's frames, and the segment is still there for
    /// the next start to read and quarantine again.
    @Test(.enabled(if: TmpfsMount.available, "mounting a tmpfs needs root"))
    func the_heads_are_on_disk_before_a_quarantined_segment_moves() throws {
        let journal = try TempJournal()
        let factory = RecordFactory()
        do {
            let writer = try JournalWriter(paths: journal.paths, hostID: "host-1", recovered: journal.recover())
            try factory.write(30, to: writer, agents: 3)
        }
        let segment = try journal.segments()[0].path
        let offsets = try frameOffsets(segment)
        var bytes = try fileBytes(segment)
        bytes[Int(offsets[14]) + 40] ^= 0x10
        try writeFile(segment, bytes)
        let elsewhere = try TmpfsMount(bytes: 1 << 20)
        try FileSystem.removeTree(journal.paths.quarantine)
        #expect(symlink(elsewhere.path, journal.paths.quarantine) == 0)

        #expect(throws: IOError.self) { _ = try journal.recover() }
        #expect(FileSystem.exists(segment))
        let stored = try ChainSnapshot.load(journal.paths)
        #expect(stored.hostSeq == 30 && stored.heads == factory.chains.heads)

        try FileSystem.unlink(journal.paths.quarantine)
        let report = try journal.recover()
        #expect(report.quarantined.count == 1 && !FileSystem.exists(segment))
        #expect(report.chains.lastHostSeq == 30 && report.chains.heads == factory.chains.heads)
    }

    func lastHostSeq(of agent: String, in journal: TempJournal) throws -> UInt64 {
        var last: UInt64 = 0
        let reader = RecordFactsReader()
        try JournalReader(dataDirectory: journal.paths.dataDirectory).read(after: 0) { hostSeq, bytes in
            if reader.read(bytes)?.agentID == agent { last = hostSeq }
            return true
        }
        return last
    }
}
