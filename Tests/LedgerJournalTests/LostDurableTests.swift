import LedgerCore
import LedgerPosix
import Testing
@testable import LedgerJournal

/// Records the durable checkpoint declared durable but the disk no longer holds
/// (docs/JOURNAL.md, "Lost durable records"): never silent, never handed out again.
@Suite struct LostDurableTests {
    static let size: Int64 = 1 << 20

    /// How the last ten acknowledged records went missing from the last segment.
    enum Damage: CaseIterable {
        /// Zeros where they were, as in a zero-filled segment that lost the writes.
        case zeroed
        /// The file cut at a frame boundary.
        case cutAtFrame
        /// The file cut in the middle of a frame.
        case tornFrame
    }

    @Test(arguments: Damage.allCases)
    func acknowledged_records_missing_below_the_checkpoint_are_logged_reported_and_never_handed_out_again(
        damage: Damage
    ) throws {
        let journal = try TempJournal()
        let log = try LogFile()
        let preallocate = damage == .zeroed
        do {
            let writer = try JournalWriter(paths: journal.paths, hostID: "host-1", recovered: journal.recover(),
                                           segmentSize: Self.size, preallocate: preallocate)
            try RecordFactory().write(30, to: writer)
        }
        #expect(try DurableCheckpoint.read(journalDirectory: journal.paths.journal) == 30)
        let segment = try journal.segments()[0].path
        let offsets = try frameOffsets(segment)
        #expect(offsets.count == 31)
        let lostFrom = offsets[20]
        let fd = try FileDescriptor.open(segment, .writeOnly)
        try fd.closeAfter {
            switch damage {
            case .zeroed: try fd.pwrite([UInt8](repeating: 0, count: Int(offsets[30] - lostFrom)), at: lostFrom)
            case .cutAtFrame: try fd.ftruncate(to: lostFrom)
            case .tornFrame: try fd.ftruncate(to: lostFrom + (offsets[21] - lostFrom) / 2)
            }
        }

        let report = try JournalRecovery.recover(paths: journal.paths, hostID: "host-1", log: log.logger)
        #expect(report.lostDurable == 21...30 && report.lostDurableCount == 10)
        #expect(report.records == 20 && report.quarantined.isEmpty)
        let errors = try log.lines(containing: "acknowledged journal records are missing")
        #expect(errors.count == 1)
        for field in ["segment=\(segment)", "offset=\(lostFrom)", "checkpoint_host_seq=30", "last_host_seq_found=20",
                      "missing_host_seqs=10", "next_host_seq=31"] {
            #expect(errors.first?.contains(field) == true, "\(field) not in \(errors)")
        }
        // The lost positions stay taken: the stream continues after the checkpoint.
        #expect(report.chains.lastHostSeq == 30)
        #expect(try DurableCheckpoint.read(journalDirectory: journal.paths.journal) == 30)
        // The segment ends at its last record: it is no longer the last one, and only the last
        // segment may end in zeros.
        #expect(try FileSystem.status(segment).size == lostFrom)
        do {
            let writer = try JournalWriter(paths: journal.paths, hostID: "host-1", recovered: report,
                                           segmentSize: Self.size, preallocate: preallocate)
            #expect(writer.segments.map(\.file.firstHostSeq) == [1, 31])
        }

        // Restarted before anything new was written: the loss is not reported twice, and the
        // empty segment's name still keeps the lost positions taken.
        let again = try JournalRecovery.recover(paths: journal.paths, hostID: "host-1", log: log.logger)
        #expect(again.lostDurable == nil && again.chains.lastHostSeq == 30 && again.gaps == [21...30])
        // The heads of a loss come from the kept records alone, so the next start rebuilds them.
        #expect(again.chains.heads == report.chains.heads)
        #expect(try log.lines(containing: "acknowledged journal records are missing").count == 1)
        let writer = try JournalWriter(paths: journal.paths, hostID: "host-1", recovered: again,
                                       segmentSize: Self.size, preallocate: preallocate)
        try RecordFactory(chains: again.chains).write(5, to: writer)
        // Readers see the hole as a jump, as after a quarantine.
        var seen: [UInt64] = []
        try JournalReader(dataDirectory: journal.paths.dataDirectory).read(after: 0) { hostSeq, _ in
            seen.append(hostSeq)
            return true
        }
        #expect(seen == Array(1...20) + Array(31...35))
    }

    @Test func records_lost_past_the_checkpoint_were_never_acknowledged_and_pass_quietly() throws {
        let journal = try TempJournal()
        let log = try LogFile()
        let factory = RecordFactory()
        let writer = try JournalWriter(paths: journal.paths, hostID: "host-1", recovered: journal.recover(),
                                       segmentSize: Self.size, preallocate: true)
        try factory.write(30, to: writer)
        let syncedEnd = writer.segments[0].size
        let pending = factory.frames(3)
        try pending.bytes.withUnsafeBytes { try writer.append($0, first: pending.first, last: pending.last) }
        // A crash before the fdatasync, and the pages come back as zeros.
        let fd = try FileDescriptor.open(journal.segments()[0].path, .writeOnly)
        try fd.closeAfter { try fd.pwrite([UInt8](repeating: 0, count: pending.bytes.count), at: syncedEnd) }
        let report = try JournalRecovery.recover(paths: journal.paths, hostID: "host-1", log: log.logger)
        #expect(report.lostDurable == nil && report.chains.lastHostSeq == 30)
        #expect(try log.lines(containing: "acknowledged").isEmpty)
        #expect(try FileSystem.status(journal.segments()[0].path).size == Self.size)
    }

    /// A checkpoint above 2^53-1 names a host_seq no record can carry (FORMAT.md §1: numbers
    /// exact as doubles), so this journal's ledgerd never wrote it. Believed, it would report
    /// trillions of lost records and number new records past what any reader accepts (or, at
    /// UInt64.max, trap on the next host_seq at every start).
    @Test(arguments: [UInt64(1) << 53, UInt64(1) << 60, UInt64.max])
    func a_checkpoint_no_record_could_carry_is_ignored_with_an_error(value: UInt64) throws {
        let journal = try TempJournal()
        let log = try LogFile()
        let factory = RecordFactory()
        do {
            let writer = try JournalWriter(paths: journal.paths, hostID: "host-1", recovered: journal.recover())
            try factory.write(30, to: writer)
        }
        try writeFile(journal.paths.checkpoint, DurableCheckpoint.encode(value))
        let report = try JournalRecovery.recover(paths: journal.paths, hostID: "host-1", log: log.logger)
        #expect(report.lostDurable == nil)
        #expect(report.chains.lastHostSeq == 30 && report.chains.heads == factory.chains.heads)
        #expect(try DurableCheckpoint.read(journalDirectory: journal.paths.journal) == 30)
        let errors = try log.lines(containing: "the durable checkpoint names a host_seq no record can carry")
        #expect(errors.count == 1 && errors.first?.contains("level=error") == true, "\(errors)")
        #expect(errors.first?.contains("checkpoint_host_seq=\(value)") == true, "\(errors)")
        #expect(try log.lines(containing: "acknowledged journal records are missing").isEmpty)
        let writer = try JournalWriter(paths: journal.paths, hostID: "host-1", recovered: report)
        #expect(writer.segments.map(\.file.firstHostSeq) == [1])
    }

    /// The largest value a record can carry is believed, however far past the segments: see
    /// docs/JOURNAL.md ("A checkpoint far past the segments") for why no closer bound is safe.
    @Test func a_checkpoint_far_past_the_segments_that_a_record_could_carry_is_believed() throws {
        let journal = try TempJournal()
        let log = try LogFile()
        do {
            let writer = try JournalWriter(paths: journal.paths, hostID: "host-1", recovered: journal.recover())
            try RecordFactory().write(30, to: writer)
        }
        let largest: UInt64 = (1 << 53) - 1
        try writeFile(journal.paths.checkpoint, DurableCheckpoint.encode(largest))
        let report = try JournalRecovery.recover(paths: journal.paths, hostID: "host-1", log: log.logger)
        #expect(report.lostDurable == 31...largest && report.chains.lastHostSeq == largest)
        #expect(try log.lines(containing: "acknowledged journal records are missing").count == 1)
    }

    /// An unreadable checkpoint cannot say whether acknowledged records are missing: recovery
    /// goes by the segments, and says so.
    @Test func an_unreadable_checkpoint_is_reported_and_recovery_goes_by_the_segments() throws {
        let journal = try TempJournal()
        let log = try LogFile()
        do {
            let writer = try JournalWriter(paths: journal.paths, hostID: "host-1", recovered: journal.recover())
            try RecordFactory().write(30, to: writer)
        }
        var bytes = DurableCheckpoint.encode(30)
        bytes[9] ^= 0x01  // host_seq 286: the CRC no longer matches
        try writeFile(journal.paths.checkpoint, bytes)
        let report = try JournalRecovery.recover(paths: journal.paths, hostID: "host-1", log: log.logger)
        #expect(report.lostDurable == nil && report.chains.lastHostSeq == 30)
        let warnings = try log.lines(containing: "the durable checkpoint is unreadable")
        #expect(warnings.count == 1 && warnings.first?.contains("path=\(journal.paths.checkpoint)") == true,
                "\(warnings)")
        #expect(try DurableCheckpoint.read(journalDirectory: journal.paths.journal) == 30)
    }

    /// After the last segment is quarantined, the writer starts a new one after its positions;
    /// a restart before anything is written there must not start another segment below it.
    @Test func a_new_empty_segment_after_a_quarantine_keeps_its_host_seq_across_a_restart() throws {
        let journal = try TempJournal()
        do {
            let writer = try JournalWriter(paths: journal.paths, hostID: "host-1", recovered: journal.recover())
            try RecordFactory().write(30, to: writer)
        }
        let segment = try journal.segments()[0]
        var bytes = try fileBytes(segment.path)
        bytes[bytes.count / 3] ^= 0x02
        try writeFile(segment.path, bytes)
        let report = try journal.recover()
        #expect(report.quarantined.count == 1 && report.chains.lastHostSeq == 30)
        do {
            let writer = try JournalWriter(paths: journal.paths, hostID: "host-1", recovered: report)
            #expect(writer.segments.map(\.file.firstHostSeq) == [31])
        }
        let again = try journal.recover()
        #expect(again.chains.lastHostSeq == 30 && again.lostDurable == nil)
        let writer = try JournalWriter(paths: journal.paths, hostID: "host-1", recovered: again)
        #expect(writer.segments.map(\.file.firstHostSeq) == [31])
        #expect(try journal.segments().map(\.firstHostSeq) == [31])
    }
}
