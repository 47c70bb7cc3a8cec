import LedgerCore
import LedgerPosix
import Testing
@testable import LedgerJournal

/// A host_seq gap in the journal (a quarantined segment) is skipped over by readers: the relay
/// forwards what follows it and the server records the gap.
@Suite struct ReaderGapTests {
    @Test func a_reader_skips_the_positions_of_a_quarantined_middle_segment_and_reads_on() throws {
        let journal = try TempJournal()
        let factory = RecordFactory()
        do {
            let writer = try JournalWriter(paths: journal.paths, hostID: "host-1", recovered: journal.recover(),
                                           segmentSize: 4096)
            for _ in 0..<6 { try factory.write(10, to: writer, agents: 2) }
        }
        let segments = try journal.segments()
        #expect(segments.count >= 3)
        var bytes = try fileBytes(segments[1].path)
        bytes[bytes.count / 2] ^= 0x40
        try writeFile(segments[1].path, bytes)
        let report = try journal.recover()
        #expect(report.quarantined.count == 1 && report.gaps.count == 1)
        let gap = try #require(report.gaps.first)
        #expect(gap.lowerBound == segments[1].firstHostSeq && gap.upperBound == segments[2].firstHostSeq - 1)
        let expected = Array(1..<gap.lowerBound) + Array((gap.upperBound + 1)...factory.chains.lastHostSeq)

        // In one call, and across calls of a reader kept between them (as the relay keeps it),
        // resuming right before the gap.
        var seen: [UInt64] = []
        let reader = JournalReader(dataDirectory: journal.paths.dataDirectory)
        #expect(try reader.read(after: 0) { hostSeq, _ in seen.append(hostSeq); return true } == expected.last)
        #expect(seen == expected)
        seen = []
        let kept = JournalReader(dataDirectory: journal.paths.dataDirectory)
        var last: UInt64 = 0
        while true {
            let next = try kept.read(after: last, limit: 7) { hostSeq, _ in seen.append(hostSeq); return true }
            if next == last { break }
            last = next
        }
        #expect(seen == expected)
        var after: [UInt64] = []
        try JournalReader(dataDirectory: journal.paths.dataDirectory).read(after: gap.lowerBound - 1) { hostSeq, _ in
            after.append(hostSeq)
            return true
        }
        #expect(after == Array((gap.upperBound + 1)...factory.chains.lastHostSeq))
    }
}
