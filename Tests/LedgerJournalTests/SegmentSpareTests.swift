import LedgerCore
import LedgerPosix
import Testing
@testable import LedgerJournal

/// The zero-filled spare segment (docs/JOURNAL.md, "Pre-zeroed segments") when it cannot be
/// prepared: one attempt per segment, logged once, and the journal keeps appending.
@Suite struct SegmentSpareTests {
    static let size: Int64 = 32 << 10

    @Test func a_spare_that_cannot_be_created_is_tried_once_per_segment_and_appends_keep_succeeding() throws {
        let journal = try TempJournal()
        let log = try LogFile()
        let writer = try JournalWriter(paths: journal.paths, hostID: "host-1", recovered: journal.recover(),
                                       segmentSize: Self.size, preallocate: true, spareReserve: 0, log: log.logger)
        let spare = try #require(writer.spare)
        // A directory where the spare goes: every attempt fails in open(2) with EISDIR.
        try FileSystem.createDirectory(spare.path)
        let factory = RecordFactory()
        let (appends, attempts) = try appendUntilRotation(writer, factory)
        #expect(appends > 20)
        #expect(attempts == 1)
        #expect(try log.lines(containing: "could not prepare a zero-filled journal segment").count == 1)
        // Rotation grants the new segment one attempt of its own.
        _ = try appendUntilRotation(writer, factory)
        #expect(spare.attempts == 2)
        #expect(try log.lines(containing: "could not prepare a zero-filled journal segment").count == 2)
        let files = try journal.segments()
        #expect(files.count == 3)
        // Without a spare, the second segment grew by appending: no zeros past its frames.
        #expect(try FileSystem.status(files[1].path).size == writer.segments[1].size)
        #expect(try verifyExport(journal) == Int(factory.chains.lastHostSeq))
    }

    @Test func no_spare_is_zero_filled_when_it_would_leave_less_than_the_reserve_free() throws {
        let journal = try TempJournal()
        let log = try LogFile()
        // More than any disk holds: the free-space check always says no.
        let writer = try JournalWriter(paths: journal.paths, hostID: "host-1", recovered: journal.recover(),
                                       segmentSize: Self.size, preallocate: true, spareReserve: .max / 2,
                                       log: log.logger)
        let spare = try #require(writer.spare)
        let factory = RecordFactory()
        let (appends, attempts) = try appendUntilRotation(writer, factory) {
            #expect(!FileSystem.exists(spare.path), "zeros were written for a spare the reserve forbids")
        }
        #expect(appends > 20 && attempts == 1)
        let skipped = try log.lines(containing: "not preparing a zero-filled journal segment: too little free space")
        #expect(skipped.count == 1)
        #expect(skipped.first?.contains("reserve_bytes=\(Int64.max / 2)") == true)
        _ = try appendUntilRotation(writer, factory)
        #expect(spare.attempts == 2)
        #expect(try verifyExport(journal) == Int(factory.chains.lastHostSeq))
    }

    /// For real: a tmpfs with room for the current segment's zeros and half a spare. The
    /// reserve is set below zero so that the free-space check lets the zero-fill run into
    /// ENOSPC, as it does when another process takes the space between the check and the fill.
    @Test(.enabled(if: TmpfsMount.available, "mounting a tmpfs needs root"))
    func a_spare_that_meets_ENOSPC_is_not_retried_until_the_next_segment() throws {
        let size: Int64 = 1 << 20
        let disk = try TmpfsMount(bytes: Int(size * 3 / 2))
        #expect(try FileSystem.availableBytes(disk.path) == size * 3 / 2)
        let journal = try TempJournal(under: disk.path)
        let log = try LogFile()
        let writer = try JournalWriter(paths: journal.paths, hostID: "host-1", recovered: journal.recover(),
                                       segmentSize: size, preallocate: true, spareReserve: -size, log: log.logger)
        let spare = try #require(writer.spare)
        let factory = RecordFactory()
        let freeAtStart = try FileSystem.availableBytes(disk.path)
        #expect(freeAtStart < size)
        var free: [Int64] = []
        let (appends, attempts) = try appendUntilRotation(writer, factory, batch: 20) {
            // Until the batch that runs past the zero-filled length (and then rotates).
            if writer.segments.count == 1 && writer.segments[0].size <= size {
                free.append(try FileSystem.availableBytes(disk.path))
            }
        }
        #expect(appends > 20)
        #expect(attempts == 1)
        let failures = try log.lines(containing: "could not prepare a zero-filled journal segment")
        #expect(failures.count == 1)
        #expect(failures.first?.contains("errno 28") == true, "\(failures)")
        // The failed spare's zeros were removed and not written again, and the records went into
        // the current segment's zeros: the free space never moved.
        #expect(free.count > 20 && free.allSatisfy { $0 == freeAtStart }, "\(free)")
        // The second segment grows by appending; a quarter into it, it tries once more.
        while writer.segments[1].size < size / 3 {
            try factory.write(20, to: writer, padding: 200)
            spare.waitUntilPrepared()
        }
        #expect(spare.attempts == 2)
        #expect(try log.lines(containing: "could not prepare a zero-filled journal segment").count == 2)
        #expect(try FileSystem.availableBytes(disk.path) > 0)
        #expect(try verifyExport(journal) == Int(factory.chains.lastHostSeq))
    }

    /// Appends small batches (waiting for the spare after each) until the writer starts a new
    /// segment; `check` runs after each. Returns the appends made and the spare's attempts
    /// just before the rotation.
    func appendUntilRotation(_ writer: JournalWriter, _ factory: RecordFactory, batch: Int = 2,
                             check: () throws -> Void = {}) throws -> (appends: Int, attempts: Int) {
        let spare = try #require(writer.spare)
        let segments = writer.segments.count
        var appends = 0
        var attempts = 0
        while writer.segments.count == segments {
            attempts = spare.attempts
            try factory.write(batch, to: writer, padding: 200)
            spare.waitUntilPrepared()
            try check()
            appends += 1
        }
        return (appends, attempts)
    }
}
