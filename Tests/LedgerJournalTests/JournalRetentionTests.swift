import LedgerCore
import LedgerPosix
import Testing
@testable import LedgerJournal

@Suite struct JournalRetentionTests {
    static let day: Int64 = 86_400_000_000

    func summary(_ first: UInt64, _ last: UInt64, age days: Int64, now: Int64) -> SegmentSummary {
        SegmentSummary(file: SegmentFile(firstHostSeq: first, path: "/x/\(first)"), size: 100, lastHostSeq: last,
                       modifiedMicros: now - days * Self.day)
    }

    @Test func retention_deletes_only_segments_both_forwarded_and_older_than_retain() {
        let now: Int64 = 100 * Self.day
        let policy = RetentionPolicy(retainMicros: 7 * Self.day)
        let segments = [summary(1, 10, age: 9, now: now), summary(11, 20, age: 8, now: now),
                        summary(21, 30, age: 2, now: now), summary(31, 40, age: 0, now: now)]
        #expect(policy.deletableCount(segments, acked: nil, now: now, underPressure: false) == 0)  // nothing forwarded
        #expect(policy.deletableCount(segments, acked: 15, now: now, underPressure: false) == 1)  // 11...20 not all acked
        #expect(policy.deletableCount(segments, acked: 20, now: now, underPressure: false) == 2)
        #expect(policy.deletableCount(segments, acked: 40, now: now, underPressure: false) == 2)  // 21...30 too young
        // Under disk pressure, forwarded segments may go early; unforwarded never; the current never.
        #expect(policy.deletableCount(segments, acked: 25, now: now, underPressure: true) == 2)
        #expect(policy.deletableCount(segments, acked: 40, now: now, underPressure: true) == 3)
    }

    @Test func standalone_retention_is_by_age_alone_and_pressure_does_not_shorten_it() {
        let now: Int64 = 100 * Self.day
        let policy = RetentionPolicy(retainMicros: 7 * Self.day, standalone: true)
        let segments = [summary(1, 10, age: 9, now: now), summary(11, 20, age: 3, now: now), summary(21, 30, age: 0, now: now)]
        #expect(policy.deletableCount(segments, acked: nil, now: now, underPressure: false) == 1)
        #expect(policy.deletableCount(segments, acked: nil, now: now, underPressure: true) == 1)
    }

    @Test func deleting_forwarded_segments_keeps_chain_heads_so_chains_continue_without_restarting() throws {
        let journal = try TempJournal()
        let factory = RecordFactory()
        let cursor = journal.base + "/cursor"
        do {
            let writer = try JournalWriter(paths: journal.paths, hostID: "host-1", recovered: try journal.recover(),
                                           segmentSize: 4096)
            for _ in 0..<6 { try factory.write(10, to: writer, agents: 3) }
            // Not acknowledged: nothing goes, however old.
            let policy = RetentionPolicy(retainMicros: 0, relayCursorPath: cursor)
            var result = try writer.applyRetention(policy, now: SystemClock.nowMicroseconds() + 1, underPressure: false,
                                                   log: journal.log)
            #expect(result.deletedSegments == 0)
            try FileSystem.writeAtomically(RelayCursor.encode(ackedHostSeq: 35), to: cursor)
            result = try writer.applyRetention(policy, now: SystemClock.nowMicroseconds() + 1, underPressure: false,
                                               log: journal.log)
            #expect(result.deletedSegments > 0 && result.ackedHostSeq == 35)
            #expect(writer.segments.allSatisfy { $0.lastHostSeq > 35 || $0 == writer.segments.last! } )
            #expect(writer.segments.first!.file.firstHostSeq <= 36)
        }
        let report = try journal.recover()
        #expect(report.chains.heads == factory.chains.heads)
        #expect(report.chains.lastHostSeq == 60)
        // The rest of the journal is a partial export whose chains continue from the snapshot.
        let next = RecordFactory(chains: report.chains)
        let writer = try JournalWriter(paths: journal.paths, hostID: "host-1", recovered: report, segmentSize: 4096)
        try next.write(3, to: writer, agents: 3)
        for agent in 0..<3 {
            #expect(next.chains.heads["agent-\(agent)"]!.sequence == factory.chains.heads["agent-\(agent)"]!.sequence + 1)
        }
    }
}
