import LedgerCore
import LedgerPosix
import Testing
@testable import LedgerJournal

@Suite struct JournalWriterTests {
    @Test func checkpoint_is_never_ahead_of_fdatasync() throws {
        let journal = try TempJournal()
        let writer = try JournalWriter(paths: journal.paths, hostID: "host-1", recovered: try journal.recover())
        let factory = RecordFactory()
        #expect(try DurableCheckpoint.read(journalDirectory: journal.paths.journal) == 0)
        let batch = factory.frames(5)
        try batch.bytes.withUnsafeBytes { try writer.append($0, first: batch.first, last: batch.last) }
        // Written, not synced: readers must not see it yet.
        #expect(try DurableCheckpoint.read(journalDirectory: journal.paths.journal) == 0)
        #expect(writer.durableHostSeq == 0 && writer.lastHostSeq == 5)
        #expect(try JournalReader(dataDirectory: journal.paths.dataDirectory).read(after: 0) { _, _ in true } == 0)
        try writer.sync()
        #expect(try DurableCheckpoint.read(journalDirectory: journal.paths.journal) == 5)
        #expect(try JournalReader(dataDirectory: journal.paths.dataDirectory).read(after: 0) { _, _ in true } == 5)
    }

    @Test func writer_rotates_at_segment_size_and_names_segments_by_first_host_seq() throws {
        let journal = try TempJournal()
        let writer = try JournalWriter(paths: journal.paths, hostID: "host-1", recovered: try journal.recover(),
                                       segmentSize: 4096)
        let factory = RecordFactory()
        for _ in 0..<10 { try factory.write(10, to: writer) }
        let segments = try journal.segments()
        #expect(segments.count > 2)
        #expect(segments.first?.firstHostSeq == 1)
        for (segment, summary) in zip(segments, writer.segments) {
            #expect(segment.firstHostSeq == summary.file.firstHostSeq)
            let scanner = try SegmentScanner(path: segment.path)
            var expected = segment.firstHostSeq
            while let frame = try scanner.next({ hostSeq, _ in #expect(hostSeq == expected); expected += 1 }) {
                #expect(frame.validation == .valid(hostSeq: expected - 1, length: Int(scanner.offset - frame.offset)))
            }
            #expect(expected - 1 == summary.lastHostSeq)
        }
        #expect(writer.segments.last?.lastHostSeq == 100)
    }

    @Test func appends_out_of_order_are_refused_by_precondition_so_only_contiguous_batches_exist() throws {
        // The writer checks `first == lastHostSeq + 1`; the daemon builds batches that way.
        let journal = try TempJournal()
        let writer = try JournalWriter(paths: journal.paths, hostID: "host-1", recovered: try journal.recover())
        let factory = RecordFactory()
        try factory.write(3, to: writer)
        #expect(writer.lastHostSeq == 3 && writer.durableHostSeq == 3)
    }

    @Test func reader_delivers_every_durable_record_in_order_across_segments() throws {
        let journal = try TempJournal()
        let writer = try JournalWriter(paths: journal.paths, hostID: "host-1", recovered: try journal.recover(),
                                       segmentSize: 8192)
        let factory = RecordFactory()
        for _ in 0..<7 { try factory.write(13, to: writer) }
        let reader = JournalReader(dataDirectory: journal.paths.dataDirectory)
        var seen: [UInt64] = []
        var after: UInt64 = 0
        while true {
            let last = try reader.read(after: after, limit: 10) { hostSeq, bytes in
                seen.append(hostSeq)
                #expect((try? RecordReader().read(bytes))?.hostSeq == hostSeq)
                return true
            }
            if last == after { break }
            after = last
        }
        #expect(seen == Array(1...91))
        // From the middle, too.
        var fromMiddle: [UInt64] = []
        try JournalReader(dataDirectory: journal.paths.dataDirectory).read(after: 40, limit: 5) { hostSeq, _ in
            fromMiddle.append(hostSeq)
            return true
        }
        #expect(fromMiddle == [41, 42, 43, 44, 45])
    }
}
