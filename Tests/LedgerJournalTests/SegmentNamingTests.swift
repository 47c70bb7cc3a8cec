import Glibc
import LedgerCore
import LedgerPosix
import Testing
@testable import LedgerJournal

/// A segment gets its name only with its header written: a reader listing the directory while
/// the writer starts a segment (the relay at ledgerd's first start, `ledgerctl tail`) must never
/// open a named segment that is still empty. inotify shows how each name came to be: created
/// empty (IN_CREATE) or renamed into place complete (IN_MOVED_TO).
@Suite struct SegmentNamingTests {
    @Test func segments_appear_under_their_name_only_complete() throws {
        let journal = try TempJournal()
        _ = try journal.recover()  // creates the journal directory
        let watch = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        #expect(watch >= 0)
        defer { close(watch) }
        #expect(inotify_add_watch(watch, journal.paths.journal, UInt32(IN_CREATE | IN_MOVED_TO)) >= 0)
        for preallocate in [false, true] {
            let writer = try JournalWriter(paths: journal.paths, hostID: "host-1", recovered: try journal.recover(),
                                           segmentSize: 4096, preallocate: preallocate)
            let factory = RecordFactory(chains: try journal.recover().chains)
            for _ in 0..<5 { try factory.write(40, to: writer, padding: 200) }  // a rotation per append
        }
        var created: [String] = [], moved: [String] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(watch, $0.baseAddress, $0.count) }
            guard n > 0 else { break }
            var offset = 0
            while offset < n {
                let (mask, length) = buffer.withUnsafeBytes { raw in
                    (raw.load(fromByteOffset: offset + 4, as: UInt32.self),
                     Int(raw.load(fromByteOffset: offset + 12, as: UInt32.self)))
                }
                let nameBytes = buffer[(offset + 16)..<(offset + 16 + length)].prefix { $0 != 0 }
                let name = String(decoding: nameBytes, as: UTF8.self)
                if SegmentFile.firstHostSeq(inName: name) != nil {
                    if mask & UInt32(IN_CREATE) != 0 { created.append(name) }
                    if mask & UInt32(IN_MOVED_TO) != 0 { moved.append(name) }
                }
                offset += 16 + length
            }
        }
        #expect(created.isEmpty, "segments created under their name before their header: \(created)")
        #expect(moved.count >= 3, "rotations seen: \(moved)")
        #expect(!FileSystem.exists(journal.paths.journal + "/" + JournalWriter.pendingSegmentName))
        #expect(try verifyExport(journal) == 400)
    }

    /// A crash between creating the pending segment and naming it leaves the pending file; the
    /// next writer removes it, and no reader or recovery ever took it for a segment.
    @Test func a_leftover_pending_segment_is_removed_and_never_read() throws {
        let journal = try TempJournal()
        _ = try journal.recover()
        let pending = journal.paths.journal + "/" + JournalWriter.pendingSegmentName
        try FileSystem.writeAtomically(Array(repeating: 0, count: 100), to: pending)
        let report = try journal.recover()
        #expect(report.quarantined.isEmpty && report.segments.isEmpty)
        _ = try JournalWriter(paths: journal.paths, hostID: "host-1", recovered: report, segmentSize: 4096)
        #expect(!FileSystem.exists(pending))
    }
}
