import LedgerCore
import LedgerPosix
import Testing
@testable import LedgerJournal

@Suite struct JournalRecoveryTests {
    @Test func recovery_rebuilds_every_chain_head_and_continues_each_chain() throws {
        let journal = try TempJournal()
        let factory = RecordFactory()
        do {
            let writer = try JournalWriter(paths: journal.paths, hostID: "host-1", recovered: try journal.recover(),
                                           segmentSize: 4096)
            for _ in 0..<5 { try factory.write(20, to: writer, agents: 7) }
        }
        var ids = 0
        let report = try journal.recover { _ in ids += 1 }
        #expect(ids == 100 && report.records == 100)
        #expect(report.chains.lastHostSeq == factory.chains.lastHostSeq)
        #expect(report.chains.heads == factory.chains.heads)
        #expect(report.quarantined.isEmpty && report.truncatedBytes == 0 && report.discontinuities == 0)
        // A writer continuing from the report appends at host_seq 101 into a verifiable stream.
        let writer = try JournalWriter(paths: journal.paths, hostID: "host-1", recovered: report, segmentSize: 4096)
        let continued = RecordFactory(chains: report.chains)
        try continued.write(5, to: writer, agents: 7)
        #expect(try verifyExport(journal) == 105)
    }

    @Test func recovery_truncates_a_torn_last_frame_and_keeps_everything_before_it() throws {
        let journal = try TempJournal()
        let factory = RecordFactory()
        let writer = try JournalWriter(paths: journal.paths, hostID: "host-1", recovered: try journal.recover())
        try factory.write(10, to: writer)
        let segment = try journal.segments().last!.path
        let good = try fileBytes(segment)
        // Half of an eleventh frame: a crash in the middle of write(2).
        let torn = factory.frames(1).bytes
        try writeFile(segment, good + torn.prefix(torn.count / 2))
        let report = try journal.recover()
        #expect(report.truncatedBytes == Int64(torn.count / 2))
        #expect(report.chains.lastHostSeq == 10)
        #expect(try fileBytes(segment) == good)
        #expect(try journal.quarantined().isEmpty)
    }

    @Test func recovery_keeps_a_zero_filled_tail_as_the_unwritten_part_of_the_last_segment() throws {
        let journal = try TempJournal()
        let writer = try JournalWriter(paths: journal.paths, hostID: "host-1", recovered: try journal.recover())
        try RecordFactory().write(4, to: writer)
        let segment = try journal.segments().last!.path
        let good = try fileBytes(segment)
        try writeFile(segment, good + [UInt8](repeating: 0, count: 4096))
        let report = try journal.recover()
        // Zeros are what a preallocated segment holds past its frames (docs/JOURNAL.md): not damage.
        #expect(report.truncatedBytes == 0 && report.chains.lastHostSeq == 4)
        #expect(report.segments.last?.size == Int64(good.count))
        #expect(try journal.quarantined().isEmpty)
    }

    @Test func recovery_quarantines_a_segment_with_a_bad_frame_in_the_middle_and_never_reuses_its_positions() throws {
        let journal = try TempJournal()
        let factory = RecordFactory()
        do {
            let writer = try JournalWriter(paths: journal.paths, hostID: "host-1", recovered: try journal.recover(),
                                           segmentSize: 4096)
            for _ in 0..<6 { try factory.write(10, to: writer, agents: 2) }
        }
        let segments = try journal.segments()
        #expect(segments.count >= 3)
        let victim = segments[1]
        var bytes = try fileBytes(victim.path)
        bytes[bytes.count / 2] ^= 0x40  // a flipped bit inside some record
        try writeFile(victim.path, bytes)

        let report = try journal.recover()
        #expect(report.quarantined.count == 1)
        #expect(try journal.quarantined().count == 1)
        #expect(!FileSystem.exists(victim.path))
        #expect(report.quarantined[0].readableRecords > 0)
        // Heads and host_seq are those of the full history: nothing is handed out twice.
        #expect(report.chains.lastHostSeq == factory.chains.lastHostSeq)
        #expect(report.chains.heads == factory.chains.heads)
        #expect(!report.gaps.isEmpty || report.quarantined[0].readableRecords >= 0)
        // A second start finds nothing new to repair: no crash loop, no second quarantine.
        let again = try journal.recover()
        #expect(again.quarantined.isEmpty && again.chains.heads == factory.chains.heads)
    }

    @Test func damage_in_the_last_segment_before_durable_frames_is_quarantined_not_truncated() throws {
        let journal = try TempJournal()
        let factory = RecordFactory()
        do {
            let writer = try JournalWriter(paths: journal.paths, hostID: "host-1", recovered: try journal.recover())
            try factory.write(30, to: writer)
        }
        let segment = try journal.segments().last!
        var bytes = try fileBytes(segment.path)
        bytes[bytes.count / 3] ^= 0x02
        try writeFile(segment.path, bytes)
        let report = try journal.recover()
        #expect(report.quarantined.count == 1 && report.truncatedBytes == 0)
        #expect(report.chains.lastHostSeq == 30)
        // The writer starts a fresh segment after the quarantined positions.
        let writer = try JournalWriter(paths: journal.paths, hostID: "host-1", recovered: report)
        #expect(writer.segments.last?.file.firstHostSeq == 31)
    }

    /// A heads snapshot interrupted between its temporary file and the rename leaves
    /// `heads.tmp-…` behind; each start removes such files (they never name a segment).
    @Test func recovery_removes_temporaries_of_an_interrupted_heads_write() throws {
        let journal = try TempJournal()
        _ = try journal.recover()
        let stale = ChainSnapshot.path(journal.paths) + ".tmp-1f2e3d"
        let other = journal.paths.journal + "/notes.tmp-1"
        try FileSystem.writeAtomically(Array("partial".utf8), to: stale)
        try FileSystem.writeAtomically(Array("keep".utf8), to: other)
        _ = try journal.recover()
        #expect(!FileSystem.exists(stale))
        #expect(FileSystem.exists(other), "only the heads snapshot's temporaries are removed")
    }

    @Test func a_journal_of_another_host_is_refused() throws {
        let journal = try TempJournal()
        let writer = try JournalWriter(paths: journal.paths, hostID: "host-1", recovered: try journal.recover())
        try RecordFactory().write(1, to: writer)
        #expect(throws: JournalError.self) {
            _ = try JournalRecovery.recover(paths: journal.paths, hostID: "other", log: journal.log)
        }
    }

    /// Model-based: random batches, syncs and crashes (a cut anywhere after the last sync);
    /// after each recovery every synced record is present and the stream verifies.
    @Test func model_random_crashes_never_lose_a_synced_record_or_fork_a_chain() throws {
        var rng = SplitMix(seed: 0x5EED)
        let journal = try TempJournal()
        var report = try journal.recover()
        var synced: UInt64 = 0
        for _ in 0..<25 {
            let writer = try JournalWriter(paths: journal.paths, hostID: "host-1", recovered: report, segmentSize: 6000)
            let factory = RecordFactory(chains: report.chains)
            for _ in 0..<Int(rng.next() % 4) {
                try factory.write(Int(1 + rng.next() % 15), to: writer, agents: 4)
                synced = writer.durableHostSeq
            }
            // Unsynced bytes, then a cut somewhere inside them.
            let pending = factory.frames(Int(1 + rng.next() % 5), agents: 4)
            try pending.bytes.withUnsafeBytes { try writer.append($0, first: pending.first, last: pending.last) }
            let last = try journal.segments().last!.path
            let size = try FileSystem.status(last).size
            let cut = size - Int64(rng.next() % UInt64(pending.bytes.count + 1))
            let fd = try FileDescriptor.open(last, .writeOnly)
            try fd.closeAfter { try fd.ftruncate(to: cut) }
            report = try journal.recover()
            #expect(report.chains.lastHostSeq >= synced)
            #expect(report.quarantined.isEmpty)
            #expect(try verifyExport(journal) == Int(report.chains.lastHostSeq))
        }
    }
}

/// Verifies the journal as a complete-stream export; returns the record count.
func verifyExport(_ journal: TempJournal) throws -> Int {
    let verifier = ExportVerifier(completeStream: true)
    var lines: [UInt8] = []
    try JournalReader(dataDirectory: journal.paths.dataDirectory).read(after: 0) { _, bytes in
        lines.append(contentsOf: bytes)
        lines.append(UInt8(ascii: "\n"))
        return true
    }
    var start = 0
    for (i, byte) in lines.enumerated() where byte == UInt8(ascii: "\n") {
        _ = lines.withUnsafeBytes { verifier.consume(line: UnsafeRawBufferPointer(rebasing: $0[start..<i])) }
        start = i + 1
    }
    let result = verifier.finish()
    #expect(result.failure == nil, "\(String(describing: result.failure))")
    return result.records
}

typealias SplitMix = SplitMix64
