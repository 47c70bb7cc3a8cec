// INVARIANT: frames are appended in host_seq order with no gap; `sync()` returns
// only after fdatasync covered every appended frame, and only then moves the
// checkpoint. After any write or sync failure the writer refuses everything
// (`JournalError.failed`): the file's state past the last durable frame is unknown.
//
// With `preallocate`, segments are zero-filled before records go in (see
// SegmentSpare.swift for why): the current segment's file is longer than its
// frames, and a zero length prefix marks where the written part ends. Only the
// current segment ever has such a tail: a segment is sealed once its frames
// reach `segmentSize`, which is also the zero-filled length, and anything left
// over (a smaller --segment-size than before) is cut off before the next starts.

import LedgerCore
import LedgerPosix

/// Appends framed records to the current segment, rotates segments and publishes the
/// durable position. Used by one thread (ledgerd's journal thread).
public final class JournalWriter {
    public let paths: JournalPaths
    public let hostID: String
    /// A new segment starts at the first batch boundary after the current one reaches this size.
    public let segmentSize: Int64

    /// Every segment, oldest first; the last is the one being written. `size` counts the
    /// header and frames, not a zero-filled tail.
    public private(set) var segments: [SegmentSummary]
    private var current: FileDescriptor?
    /// Where the current segment's file ends (past its frames when zero-filled).
    private var currentFileSize: Int64 = 0
    /// host_seq of the last frame written (durable or not).
    public private(set) var lastHostSeq: UInt64
    /// host_seq of the last frame fdatasync covered.
    public private(set) var durableHostSeq: UInt64
    private let checkpoint: CheckpointFile
    private var failure: String?
    private var dirty = false
    /// The next segment, zero-filled ahead of need; nil when not preallocating.
    let spare: SegmentSpare?

    /// Continues the journal where recovery left it, and rewrites the checkpoint. With
    /// `preallocate`, a new segment is zero-filled to `segmentSize` before its first record and
    /// the next one is prepared in the background (ledgerd does this; tests choose), but only
    /// while the filesystem keeps `spareReserve` bytes free after it (nil: `segmentSize` + 64 MiB;
    /// a negative value lets the zeros run that far past the free space, up to ENOSPC).
    public init(paths: JournalPaths, hostID: String, recovered: RecoveryReport,
                segmentSize: Int64 = Journal.defaultSegmentSize, preallocate: Bool = false,
                spareReserve: Int64? = nil, log: Logger? = nil) throws {
        self.paths = paths
        self.hostID = hostID
        self.segmentSize = segmentSize
        segments = recovered.segments
        lastHostSeq = recovered.chains.lastHostSeq
        durableHostSeq = lastHostSeq
        checkpoint = try CheckpointFile(journalDirectory: paths.journal, initial: lastHostSeq)
        try SegmentSpare.removeLeftover(journalDirectory: paths.journal)
        try FileSystem.unlink(paths.journal + "/" + Self.pendingSegmentName, ignoreMissing: true)
        spare = preallocate
            ? SegmentSpare(journalDirectory: paths.journal, size: segmentSize,
                           reserve: spareReserve ?? SegmentSpare.defaultReserve(segmentSize: segmentSize), log: log)
            : nil
        // Continue the last segment only if it ends where the stream does; after a quarantine
        // of the last segment the stream is ahead of every kept file, so a new one starts.
        if let last = segments.last, last.lastHostSeq == lastHostSeq {
            let fd = try FileDescriptor.open(last.file.path, .writeOnly)
            // Recovery reports the end of the frames; a zero-filled tail after it is kept.
            try fd.lseek(last.size)
            current = fd
            currentFileSize = try fd.size()
        } else {
            try startSegment(first: lastHostSeq + 1, zeroFill: preallocate)
        }
        prepareSpareIfDue()
    }

    deinit { try? current?.close() }

    /// Bytes of all segment files.
    public var diskBytes: Int64 { segments.reduce(0) { $0 + $1.size } }

    /// Appends `frames` (whole frames with host_seq `first...last`, contiguous with what was
    /// written before). Not durable until `sync()`.
    public func append(_ frames: UnsafeRawBufferPointer, first: UInt64, last: UInt64) throws {
        if let failure { throw JournalError.failed(underlying: failure) }
        precondition(first == lastHostSeq + 1 && last >= first, "journal append out of order: \(first)...\(last) after \(lastHostSeq)")
        do {
            if segments[segments.count - 1].size >= segmentSize {
                try rotate(first: first)
            }
            try current!.write(frames)
        } catch {
            failure = "\(error)"
            throw error
        }
        segments[segments.count - 1].size += Int64(frames.count)
        segments[segments.count - 1].lastHostSeq = last
        currentFileSize = max(currentFileSize, segments[segments.count - 1].size)
        lastHostSeq = last
        dirty = true
        prepareSpareIfDue()
    }

    /// Zero-filling 64 MiB takes a fraction of a second; starting when the current segment is a
    /// quarter full leaves that much time at any rate the disk sustains, and a journal that never
    /// gets that far never holds a second segment's worth of zeros. Called after every append:
    /// the spare itself makes at most one attempt per segment.
    private func prepareSpareIfDue() {
        guard let spare, segments[segments.count - 1].size >= segmentSize / 4 else { return }
        spare.prepareInBackground()
    }

    /// fdatasync, then the checkpoint. Returns the durable host_seq.
    @discardableResult
    public func sync() throws -> UInt64 {
        if let failure { throw JournalError.failed(underlying: failure) }
        guard dirty else { return durableHostSeq }
        do {
            try current!.fdatasync()
            durableHostSeq = lastHostSeq
            dirty = false
            try checkpoint.publish(durableHostSeq)
        } catch {
            failure = "\(error)"
            throw error
        }
        segments[segments.count - 1].modifiedMicros = SystemClock.nowMicroseconds()
        return durableHostSeq
    }

    /// Whether an earlier failure stopped the writer, and why.
    public var failureReason: String? { failure }

    private func rotate(first: UInt64) throws {
        if dirty {
            try current!.fdatasync()
            durableHostSeq = lastHostSeq
            dirty = false
            try checkpoint.publish(durableHostSeq)
        }
        // A sealed segment holds frames only: readers and recovery treat a zero tail as the
        // end of the stream, which is right only for the last segment.
        let written = segments[segments.count - 1].size
        if currentFileSize > written {
            try current!.ftruncate(to: written)
            try current!.fsync()
        }
        try current?.close()
        current = nil
        if let fd = spare?.take() {
            try install(fd, first: first)
        } else {
            try startSegment(first: first, zeroFill: false)
        }
    }

    /// Turns the zero-filled spare into the segment starting at `first`: header first (an
    /// overwrite, synced), then the name, so a crash never leaves a named segment without one.
    private func install(_ fd: FileDescriptor, first: UInt64) throws {
        let file = SegmentFile(firstHostSeq: first, path: paths.journal + "/" + SegmentFile.name(firstHostSeq: first))
        let header = SegmentHeader(firstHostSeq: first, hostID: hostID).encoded()
        do {
            try fd.pwrite(header, at: 0)
            try fd.fdatasync()
            try FileSystem.rename(spare!.path, to: file.path)
            try FileSystem.syncDirectory(paths.journal)
            try fd.lseek(Int64(header.count))
        } catch {
            try? fd.close()
            throw error
        }
        current = fd
        currentFileSize = spare!.size
        segments.append(SegmentSummary(file: file, size: Int64(header.count), lastHostSeq: first - 1,
                                       modifiedMicros: SystemClock.nowMicroseconds()))
    }

    /// Creates a segment with its header, synced with its directory entry before any record goes in.
    /// With `zeroFill` (at start-up, when nothing waits for the disk yet) the rest of the segment
    /// is zero-filled first; if that fails (a nearly full disk) the segment grows by appending.
    ///
    /// The file is prepared under `pendingSegmentName` and gets its segment name only once its
    /// header is written and synced, as the spare does (`install`): a reader that lists the
    /// directory meanwhile (the relay, `ledgerctl tail`) never opens a named segment without
    /// its header, and a crash never leaves one behind.
    private func startSegment(first: UInt64, zeroFill: Bool) throws {
        let file = SegmentFile(firstHostSeq: first, path: paths.journal + "/" + SegmentFile.name(firstHostSeq: first))
        let pending = paths.journal + "/" + Self.pendingSegmentName
        let header = SegmentHeader(firstHostSeq: first, hostID: hostID).encoded()
        let fd = try FileDescriptor.open(pending, .writeOnly, options: [.create, .truncate], permissions: 0o640)
        var fileSize = Int64(header.count)
        do {
            try fd.setPermissions(0o640)
            try fd.write(header)
            if zeroFill && segmentSize > fileSize {
                do {
                    try ZeroFill.fill(fd, from: fileSize, to: segmentSize)
                    fileSize = segmentSize
                } catch {
                    try fd.ftruncate(to: fileSize)
                }
            }
            try fd.fdatasync()
            try FileSystem.rename(pending, to: file.path)
            try FileSystem.syncDirectory(paths.journal)
            try fd.lseek(Int64(header.count))
        } catch {
            try? fd.close()
            try? FileSystem.unlink(pending, ignoreMissing: true)
            throw error
        }
        current = fd
        currentFileSize = fileSize
        segments.append(SegmentSummary(file: file, size: Int64(header.count), lastHostSeq: first - 1,
                                       modifiedMicros: SystemClock.nowMicroseconds()))
    }

    /// Not a segment name (SegmentFile.firstHostSeq(inName:) refuses it): no reader, recovery or
    /// retention looks at a segment being started. A leftover is removed when a writer opens.
    static let pendingSegmentName = "segment-new.tmp"

    /// Removes the oldest sealed segments (never the current one) after retention wrote the
    /// chain snapshot covering them. Returns the bytes freed.
    func removeOldest(_ count: Int) throws -> Int64 {
        precondition(count < segments.count, "the current segment is never removed")
        var freed: Int64 = 0
        for segment in segments.prefix(count) {
            try FileSystem.unlink(segment.file.path, ignoreMissing: true)
            freed += segment.size
        }
        segments.removeFirst(count)
        try FileSystem.syncDirectory(paths.journal)
        return freed
    }
}
