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
            try FileSystem.writeAtomically(RelayCursor.encode(ackedHostSeq: 35, hostID: "host-1"), to: cursor)
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

    /// A cursor left over from another journal (reinstall, new --host-id, wiped data directory,
    /// cloned VM image) must not make the new journal's records count as forwarded.
    @Test func retention_ignores_a_cursor_not_written_for_this_journal_and_logs_it_once() throws {
        let journal = try TempJournal()
        let logFile = try LogFile()
        let factory = RecordFactory()
        let cursor = journal.base + "/cursor"
        let writer = try JournalWriter(paths: journal.paths, hostID: "host-1", recovered: try journal.recover(),
                                       segmentSize: 4096)
        for _ in 0..<6 { try factory.write(10, to: writer, agents: 3) }
        #expect(writer.segments.count > 3)
        let policy = RetentionPolicy(retainMicros: 0, relayCursorPath: cursor)
        func pass(pressure: Bool = false) throws -> RetentionResult {
            try writer.applyRetention(policy, now: SystemClock.nowMicroseconds() + 1, underPressure: pressure,
                                      log: logFile.logger)
        }
        func ignoredLines() throws -> Int { try logFile.lines(containing: "retention ignores the relay cursor").count }

        for (index, content) in [RelayCursor.encode(ackedHostSeq: 35, hostID: "old-host"),
                                 RelayCursor.encode(ackedHostSeq: 35),
                                 RelayCursor.encode(ackedHostSeq: 500, hostID: "host-1")].enumerated() {
            try FileSystem.writeAtomically(content, to: cursor)
            for pressure in [false, true, false] {
                let result = try pass(pressure: pressure)
                #expect(result.deletedSegments == 0 && result.ackedHostSeq == nil)
                #expect(result.ignoredCursor?.contains(cursor) == true)
            }
            #expect(try ignoredLines() == index + 1, "each cursor is logged once, however many passes see it")
        }
        #expect(try pass().ignoredCursor?.contains("past the last one this journal handed out (60)") == true)

        // A cursor that was once past this journal stays ignored after the journal grew past it:
        // its host_seq 1…500 are this journal's, not the ones the server acknowledged.
        for _ in 0..<46 { try factory.write(10, to: writer, agents: 3) }
        #expect(try pass(pressure: true).deletedSegments == 0)
        #expect(try ignoredLines() == 3)

        try FileSystem.writeAtomically(RelayCursor.encode(ackedHostSeq: 35, hostID: "host-1"), to: cursor)
        let result = try pass()
        #expect(result.deletedSegments > 0 && result.ackedHostSeq == 35 && result.ignoredCursor == nil)
    }
}
