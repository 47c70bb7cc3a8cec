// INVARIANT: frames are appended in host_seq order with no gap; `sync()` returns
// only after fdatasync covered every appended frame, and only then moves the
// checkpoint. After any write or sync failure the writer refuses everything
// (`JournalError.failed`): the file's state past the last durable frame is unknown.

import LedgerCore
import LedgerPosix

/// Appends framed records to the current segment, rotates segments and publishes the
/// durable position. Used by one thread (ledgerd's journal thread).
public final class JournalWriter {
    public let paths: JournalPaths
    public let hostID: String
    /// A new segment starts at the first batch boundary after the current one reaches this size.
    public let segmentSize: Int64

    /// Every segment, oldest first; the last is the one being written.
    public private(set) var segments: [SegmentSummary]
    private var current: FileDescriptor?
    /// host_seq of the last frame written (durable or not).
    public private(set) var lastHostSeq: UInt64
    /// host_seq of the last frame fdatasync covered.
    public private(set) var durableHostSeq: UInt64
    private let checkpoint: CheckpointFile
    private var failure: String?
    private var dirty = false

    /// Continues the journal where recovery left it, and rewrites the checkpoint.
    public init(paths: JournalPaths, hostID: String, recovered: RecoveryReport,
                segmentSize: Int64 = Journal.defaultSegmentSize) throws {
        self.paths = paths
        self.hostID = hostID
        self.segmentSize = segmentSize
        segments = recovered.segments
        lastHostSeq = recovered.chains.lastHostSeq
        durableHostSeq = lastHostSeq
        checkpoint = try CheckpointFile(journalDirectory: paths.journal, initial: lastHostSeq)
        // Continue the last segment only if it ends where the stream does; after a quarantine
        // of the last segment the stream is ahead of every kept file, so a new one starts.
        if let last = segments.last, last.lastHostSeq == lastHostSeq {
            let fd = try FileDescriptor.open(last.file.path, .writeOnly)
            try fd.lseek(0, from: .end)
            current = fd
        } else {
            try startSegment(first: lastHostSeq + 1)
        }
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
        lastHostSeq = last
        dirty = true
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
        try current?.close()
        current = nil
        try startSegment(first: first)
    }

    /// Creates a segment with its header, synced with its directory entry before any record goes in.
    private func startSegment(first: UInt64) throws {
        let file = SegmentFile(firstHostSeq: first, path: paths.journal + "/" + SegmentFile.name(firstHostSeq: first))
        let header = SegmentHeader(firstHostSeq: first, hostID: hostID).encoded()
        let fd = try FileDescriptor.open(file.path, .writeOnly, options: [.create, .truncate], permissions: 0o640)
        do {
            try fd.setPermissions(0o640)
            try fd.write(header)
            try fd.fdatasync()
            try FileSystem.syncDirectory(paths.journal)
        } catch {
            try? fd.close()
            throw error
        }
        current = fd
        segments.append(SegmentSummary(file: file, size: Int64(header.count), lastHostSeq: first - 1,
                                       modifiedMicros: SystemClock.nowMicroseconds()))
    }

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
