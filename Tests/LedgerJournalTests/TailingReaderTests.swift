import LedgerCore
import LedgerPosix
import Testing
@testable import LedgerJournal

/// A reader kept between calls, as the relay keeps it, while the writer appends into a
/// zero-filled segment (docs/JOURNAL.md, "Pre-zeroed segments"): the reader's buffer holds
/// zeros it read before the writer wrote there.
@Suite struct TailingReaderTests {
    /// The file is zero-filled well past the end of the reader's first read.
    static let segmentSize: Int64 = 4 << 20

    /// `buffered` bytes of the next frame's 16-byte header lie in the reader's buffer, read as
    /// zeros: 1-3 leave the length field partly stale, 4-15 wholly.
    @Test(arguments: [1, 3, 4, 8, 15])
    func a_kept_reader_whose_buffer_ends_inside_a_frame_header_reads_the_frame_written_there(buffered: Int) throws {
        let journal = try TempJournal()
        let writer = try JournalWriter(paths: journal.paths, hostID: "host-1", recovered: journal.recover(),
                                       segmentSize: Self.segmentSize, preallocate: true, log: journal.log)
        let bufferEnd = Int64(SegmentScanner.defaultBufferSize)
        try append(to: writer, lengths: frameLengths(filling: bufferEnd - Int64(buffered) - writer.segments[0].size))
        #expect(writer.segments[0].size == bufferEnd - Int64(buffered))

        let reader = JournalReader(dataDirectory: journal.paths.dataDirectory)
        let firstPass = writer.durableHostSeq
        #expect(try reader.read(after: 0) { _, _ in true } == firstPass)

        try append(to: writer, lengths: [100, 200, 300])
        var delivered: [UInt64] = []
        let last = try reader.read(after: firstPass) { hostSeq, bytes in
            #expect(bytes.count == [100, 200, 300][delivered.count] - JournalFrame.headerLength)
            delivered.append(hostSeq)
            return true
        }
        // All in this one call: stale zeros taken for the end of the written part would stop the
        // reader here and make its next call scan the segment again from the start.
        #expect(delivered == Array((firstPass + 1)...(firstPass + 3)))
        #expect(last == firstPass + 3)
    }

    /// The kept reader sits at the end of a segment; the writer seals it and syncs records into
    /// the next one. The first read after the rotation delivers them: not the next inotify event
    /// or the relay's 2 s fallback.
    @Test(arguments: [false, true])
    func a_kept_reader_reads_the_first_records_of_a_new_segment_in_the_same_call(preallocate: Bool) throws {
        let journal = try TempJournal()
        let writer = try JournalWriter(paths: journal.paths, hostID: "host-1", recovered: journal.recover(),
                                       segmentSize: 8 << 10, preallocate: preallocate, log: journal.log)
        let factory = RecordFactory()
        let reader = JournalReader(dataDirectory: journal.paths.dataDirectory)
        var last: UInt64 = 0
        var rotations = 0
        while rotations < 20 {
            let segments = writer.segments.count
            try factory.write(1, to: writer)
            if writer.segments.count > segments { rotations += 1 }
            var delivered: [UInt64] = []
            last = try reader.read(after: last) { hostSeq, _ in
                delivered.append(hostSeq)
                return true
            }
            #expect(delivered == [writer.durableHostSeq], "rotation \(rotations): a read delivered \(delivered)")
            #expect(last == writer.durableHostSeq)
            if last != writer.durableHostSeq { return }
        }
    }

    /// Frame lengths (header included) that add up to exactly `total`, at most 64 KiB each.
    func frameLengths(filling total: Int64) -> [Int] {
        let chunk: Int64 = 64 << 10
        var lengths: [Int] = []
        var remaining = total
        while remaining > 0 {
            // The last two share what is left, so that neither is too short to hold a record.
            let length = remaining > 2 * chunk ? chunk : (remaining > chunk ? remaining / 2 : remaining)
            lengths.append(Int(length))
            remaining -= length
        }
        return lengths
    }

    /// Appends and syncs frames of exactly these lengths (header included), each holding a JSON
    /// filler record: the reader does not look into records.
    func append(to writer: JournalWriter, lengths: [Int]) throws {
        var frames: [UInt8] = []
        let first = writer.lastHostSeq + 1
        for (index, length) in lengths.enumerated() {
            let record = Array("{\"f\":\"\(String(repeating: "a", count: length - JournalFrame.headerLength - 8))\"}".utf8)
            record.withUnsafeBytes { JournalFrame.append(record: $0, hostSeq: first + UInt64(index), into: &frames) }
        }
        try frames.withUnsafeBytes { try writer.append($0, first: first, last: first + UInt64(lengths.count - 1)) }
        try writer.sync()
    }
}
