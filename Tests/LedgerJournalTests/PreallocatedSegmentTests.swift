import LedgerCore
import LedgerPosix
import Testing
@testable import LedgerJournal

/// Zero-filled segments (docs/JOURNAL.md, "Pre-zeroed segments"): the current segment's file is
/// longer than its frames, and a zero length prefix ends the written part.
@Suite struct PreallocatedSegmentTests {
    static let size: Int64 = 32 << 10

    func preallocatingWriter(_ journal: TempJournal, report: RecoveryReport? = nil) throws -> JournalWriter {
        try JournalWriter(paths: journal.paths, hostID: "host-1", recovered: report ?? journal.recover(),
                          segmentSize: Self.size, preallocate: true, log: journal.log)
    }

    /// Every durable record through one reader that is kept between calls, as the relay keeps it.
    func readAll(_ reader: JournalReader, after: UInt64) throws -> [UInt64] {
        var seen: [UInt64] = []
        var from = after
        while true {
            let last = try reader.read(after: from) { hostSeq, bytes in
                #expect((try? RecordReader().read(bytes))?.hostSeq == hostSeq)
                seen.append(hostSeq)
                return true
            }
            if last == from { return seen }
            from = last
        }
    }

    @Test func a_new_segment_is_zero_filled_and_a_kept_reader_sees_records_written_over_its_zeros() throws {
        let journal = try TempJournal()
        let writer = try preallocatingWriter(journal)
        let factory = RecordFactory()
        let segment = try journal.segments()[0].path
        #expect(try FileSystem.status(segment).size == Self.size)
        try factory.write(5, to: writer)
        let reader = JournalReader(dataDirectory: journal.paths.dataDirectory)
        #expect(try readAll(reader, after: 0) == Array(1...5))
        // The reader's buffer now holds zeros past record 5; the writer overwrites them.
        try factory.write(4, to: writer)
        #expect(try readAll(reader, after: 5) == Array(6...9))
        #expect(try FileSystem.status(segment).size == Self.size)
        #expect(writer.segments[0].size < Self.size)
    }

    @Test func sealed_segments_hold_frames_only_and_the_spare_is_never_listed() throws {
        let journal = try TempJournal()
        let writer = try preallocatingWriter(journal)
        let factory = RecordFactory()
        for _ in 0..<12 {
            try factory.write(20, to: writer, padding: 200)
            writer.spare?.waitUntilPrepared()
        }
        let files = try journal.segments()
        #expect(files.count > 3)
        #expect(!files.contains { $0.path.hasSuffix(SegmentSpare.fileName) })
        for (file, summary) in zip(files, writer.segments).dropLast() {
            // Every sealed segment ends with its last frame: no zero tail is left behind.
            #expect(try FileSystem.status(file.path).size == summary.size)
        }
        // Segments after the first were prepared in the background: they start zero-filled.
        #expect(try FileSystem.status(files.last!.path).size >= Self.size)
        #expect(try verifyExport(journal) == 240)
        let report = try journal.recover()
        #expect(report.truncatedBytes == 0 && report.quarantined.isEmpty && report.records == 240)
    }

    @Test func a_spare_left_by_a_crash_is_never_read_as_a_segment_and_is_replaced() throws {
        let journal = try TempJournal()
        let factory = RecordFactory()
        do {
            let writer = try preallocatingWriter(journal)
            try factory.write(3, to: writer)
        }
        // A crash while a spare was being installed: it holds a header and frames of its own.
        let spare = journal.paths.journal + "/" + SegmentSpare.fileName
        let stray = SegmentHeader(firstHostSeq: 4, hostID: "host-1").encoded() + factory.frames(2).bytes
        let fd = try FileDescriptor.open(spare, .writeOnly, options: [.create], permissions: 0o640)
        try fd.closeAfter { try fd.write(stray) }
        let report = try journal.recover()
        #expect(report.chains.lastHostSeq == 3 && report.segments.count == 1 && report.quarantined.isEmpty)
        let writer = try preallocatingWriter(journal, report: report)
        #expect(!FileSystem.exists(spare))
        try RecordFactory(chains: report.chains).write(2, to: writer)
        #expect(try verifyExport(journal) == 5)
    }

    @Test func recovery_keeps_the_zero_filled_tail_and_the_writer_continues_into_it() throws {
        let journal = try TempJournal()
        let factory = RecordFactory()
        do {
            let writer = try preallocatingWriter(journal)
            try factory.write(10, to: writer)
        }
        let segment = try journal.segments()[0].path
        let before = try fileBytes(segment)
        let report = try journal.recover()
        #expect(report.truncatedBytes == 0 && report.quarantined.isEmpty)
        #expect(report.chains.lastHostSeq == 10 && report.segments[0].size < Self.size)
        #expect(try fileBytes(segment) == before)
        let writer = try preallocatingWriter(journal, report: report)
        try RecordFactory(chains: report.chains).write(5, to: writer)
        #expect(try FileSystem.status(segment).size == Self.size)
        #expect(try journal.segments().count == 1)
        #expect(try verifyExport(journal) == 15)
    }

    @Test func a_torn_frame_before_the_zeros_is_truncated_and_nothing_synced_is_lost() throws {
        let journal = try TempJournal()
        let factory = RecordFactory()
        let writtenEnd: Int64
        do {
            let writer = try preallocatingWriter(journal)
            try factory.write(10, to: writer)
            writtenEnd = writer.segments[0].size
        }
        // Half of an eleventh frame written over the zeros: a crash in the middle of write(2).
        let torn = factory.frames(1).bytes
        let segment = try journal.segments()[0].path
        let fd = try FileDescriptor.open(segment, .writeOnly)
        try fd.closeAfter { try fd.pwrite(Array(torn.prefix(torn.count / 2)), at: writtenEnd) }
        let report = try journal.recover()
        #expect(report.chains.lastHostSeq == 10 && report.quarantined.isEmpty)
        #expect(report.truncatedBytes == Self.size - writtenEnd)
        #expect(try verifyExport(journal) == 10)
    }

    @Test func damage_before_durable_frames_of_a_zero_filled_segment_is_still_quarantined() throws {
        let journal = try TempJournal()
        do {
            let writer = try preallocatingWriter(journal)
            try RecordFactory().write(30, to: writer)
        }
        let segment = try journal.segments()[0]
        let recovered = try journal.recover()
        var bytes = try fileBytes(segment.path)
        bytes[Int(recovered.segments[0].size) / 3] ^= 0x02
        try writeFile(segment.path, bytes)
        let report = try journal.recover()
        #expect(report.quarantined.count == 1 && report.truncatedBytes == 0)
        #expect(report.chains.lastHostSeq == 30)
    }

    /// Model-based, as the append-only model in JournalRecoveryTests, for overwritten zeros: after
    /// a crash the unsynced part of the written region holds any prefix of what was written and
    /// zeros (or stale bytes) behind it; every synced record survives and the stream verifies.
    @Test func model_random_crashes_in_zero_filled_segments_never_lose_a_synced_record() throws {
        var rng = SplitMix(seed: 0xFEED)
        let journal = try TempJournal()
        var report = try journal.recover()
        var synced: UInt64 = 0
        for _ in 0..<25 {
            let writer = try preallocatingWriter(journal, report: report)
            let factory = RecordFactory(chains: report.chains)
            for _ in 0..<Int(rng.next() % 4) {
                try factory.write(Int(1 + rng.next() % 15), to: writer, agents: 4, padding: Int(rng.next() % 250))
                synced = writer.durableHostSeq
            }
            let pending = factory.frames(Int(1 + rng.next() % 5), agents: 4)
            try pending.bytes.withUnsafeBytes { try writer.append($0, first: pending.first, last: pending.last) }
            writer.spare?.waitUntilPrepared()
            // The pending frames end the last segment's written part (append may have rotated).
            let start = writer.segments.last!.size - Int64(pending.bytes.count)
            let last = try journal.segments().last!.path
            // Pages lost in the crash come back as zeros, or (one case in four) as garbage.
            let cut = Int(rng.next() % UInt64(pending.bytes.count + 1))
            let garbage = rng.next() % 4 == 0
            let lost = (cut..<pending.bytes.count).map { _ in garbage ? UInt8(truncatingIfNeeded: rng.next() | 1) : 0 }
            let fd = try FileDescriptor.open(last, .writeOnly)
            try fd.closeAfter { try fd.pwrite(lost, at: start + Int64(cut)) }
            report = try journal.recover()
            #expect(report.chains.lastHostSeq >= synced)
            #expect(report.quarantined.isEmpty)
            #expect(try verifyExport(journal) == Int(report.chains.lastHostSeq))
        }
    }
}
