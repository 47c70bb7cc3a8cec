import LedgerCore
import LedgerPosix
import Testing
@testable import LedgerJournal

/// A durable record the reader cannot read in the segment being written: reading stops before
/// it until a later segment exists. That must be visible, once, not on every wake-up.
@Suite struct ReaderStallTests {
    /// The offset of the frame with `hostSeq` in the segment at `path`.
    func offset(of hostSeq: UInt64, in path: String) throws -> Int64 {
        let scanner = try SegmentScanner(path: path)
        while true {
            var seen: UInt64 = 0
            let at = scanner.offset
            guard let frame = try scanner.next({ seq, _ in seen = seq }), case .valid = frame.validation else {
                throw JournalError.badCheckpoint(path: "no frame \(hostSeq) in \(path)")
            }
            if seen == hostSeq { return at }
        }
    }

    @Test func a_damaged_durable_frame_in_the_active_segment_is_reported_once_and_cleared_when_reading_moves_on() throws {
        let journal = try TempJournal()
        let factory = RecordFactory()
        let writer = try JournalWriter(paths: journal.paths, hostID: "host-1", recovered: journal.recover(),
                                       segmentSize: 8 << 10)
        for _ in 0..<5 { try factory.write(1, to: writer) }
        let segment = try #require(try journal.segments().last).path
        let damaged = try offset(of: 3, in: segment)
        var bytes = try fileBytes(segment)
        bytes[Int(damaged) + JournalFrame.headerLength + 2] ^= 0x01
        try writeFile(segment, bytes)

        let reader = JournalReader(dataDirectory: journal.paths.dataDirectory)
        var reports: [JournalReader.Stall?] = []
        reader.onStallChange = { reports.append($0) }
        #expect(try reader.read(after: 0) { _, _ in true } == 2)
        let stall = try #require(reader.stall)
        #expect(stall.segment == segment && stall.offset == damaged && stall.hostSeq == 3 && stall.durableHostSeq == 5)
        #expect(stall.found.contains("do not match its CRC"), "\(stall.found)")
        #expect(reports == [stall])

        // Every wake-up finds it again, and more records arrive behind it: still one report.
        for _ in 0..<3 {
            try factory.write(1, to: writer)
            #expect(try reader.read(after: 2) { _, _ in true } == 2)
        }
        #expect(reader.stall?.hostSeq == 3 && reader.stall?.durableHostSeq == 8)
        #expect(reports.count == 1)

        // Once ledgerd starts a new segment, reading goes on there (a gap over the rest of the
        // damaged one), and the stall is over.
        let segments = writer.segments.count
        while writer.segments.count == segments { try factory.write(1, to: writer) }
        var delivered: [UInt64] = []
        #expect(try reader.read(after: 2) { hostSeq, _ in delivered.append(hostSeq); return true } == writer.durableHostSeq)
        #expect(delivered.first == writer.segments.last!.file.firstHostSeq)
        #expect(reader.stall == nil)
        #expect(reports.count == 2 && reports.last! == nil)
    }

    /// Zeros where the checkpoint says records are (a lost write in a zero-filled segment).
    @Test func zeros_below_the_checkpoint_are_a_stall_too() throws {
        let journal = try TempJournal()
        let factory = RecordFactory()
        let writer = try JournalWriter(paths: journal.paths, hostID: "host-1", recovered: journal.recover(),
                                       segmentSize: 1 << 20, preallocate: true, log: journal.log)
        try factory.write(4, to: writer)
        let segment = try #require(try journal.segments().last).path
        let lost = try offset(of: 4, in: segment)
        let fd = try FileDescriptor.open(segment, .writeOnly)
        try fd.closeAfter { try fd.pwrite([UInt8](repeating: 0, count: 64), at: lost) }
        let reader = JournalReader(dataDirectory: journal.paths.dataDirectory)
        #expect(try reader.read(after: 0) { _, _ in true } == 3)
        #expect(reader.stall?.hostSeq == 4 && reader.stall?.offset == lost && reader.stall?.found == "zeros")
    }

    /// Records written but not yet durable, and a reader that has read everything durable: no stall.
    @Test func waiting_for_records_is_not_a_stall() throws {
        let journal = try TempJournal()
        let factory = RecordFactory()
        let writer = try JournalWriter(paths: journal.paths, hostID: "host-1", recovered: journal.recover(),
                                       segmentSize: 1 << 20, preallocate: true, log: journal.log)
        try factory.write(4, to: writer)
        let reader = JournalReader(dataDirectory: journal.paths.dataDirectory)
        var reports = 0
        reader.onStallChange = { _ in reports += 1 }
        #expect(try reader.read(after: 0) { _, _ in true } == 4)
        let batch = factory.frames(3)
        try batch.bytes.withUnsafeBytes { try writer.append($0, first: batch.first, last: batch.last) }
        #expect(try reader.read(after: 4) { _, _ in true } == 4)
        #expect(reader.stall == nil && reports == 0)
    }
}
