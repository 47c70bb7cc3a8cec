// Zero-filled segment files, written before records need them.
//
// Why: on ext4, fdatasync after a write that grows the file (or that lands in
// fallocate'd "unwritten" extents) must also commit the filesystem journal
// (jbd2) for the new size and block map, and that commit carries, and waits
// for, every other process's pending metadata on the same filesystem. An
// overwrite of blocks that are already allocated and written needs only the
// data flush. PostgreSQL pre-fills its WAL segments with zeros for the same
// reason. Measured on the development VM (docs/JOURNAL.md, "Pre-zeroed
// segments"): fdatasync of 64 KiB appends p50 0.47 ms / p99 0.75 ms, of
// overwrites 0.26 / 0.46 ms on a quiet disk; while a build ran, 3.7 / 11.7 ms
// against 0.12 / 0.18 ms.
//
// INVARIANT: a spare is handed out only after its zeros are fsynced (its
// blocks allocated and written on disk), and it never carries a segment name
// until the writer has written and synced a header into it.

import Dispatch
import LedgerPosix

enum ZeroFill {
    private static let chunk = [UInt8](repeating: 0, count: 1 << 20)

    /// Writes zeros over `start ..< end` of `fd` and fsyncs it, so that later writes there are
    /// overwrites of allocated, written blocks.
    ///
    /// `paced` (the background spare, while records are being committed): each 1 MiB is synced
    /// before the next is written. Written all at once, 64 MiB of zeros sat in the disk's queue
    /// ahead of the journal thread's fdatasync, which then took up to 194 ms instead of ~0.3 ms
    /// (measured, docs/JOURNAL.md); one queued MiB costs a commit about a millisecond at most.
    static func fill(_ fd: FileDescriptor, from start: Int64, to end: Int64, paced: Bool = false) throws {
        var offset = start
        try chunk.withUnsafeBytes { zeros in
            while offset < end {
                let count = Int(min(Int64(zeros.count), end - offset))
                try fd.pwrite(UnsafeRawBufferPointer(rebasing: zeros[..<count]), at: offset)
                offset += Int64(count)
                if paced { try fd.fdatasync() }
            }
        }
        try fd.fsync()
    }
}

/// The next segment file, zero-filled on a background thread while the current one fills up.
/// Used by the journal writer's thread (`take`, `prepareInBackground`) and its own queue.
///
/// At most one attempt per segment: after a failure (ENOSPC) or a skip for lack of free space,
/// the next attempt waits for the next rotation (`take`). Retried on every append, as it once
/// was, each attempt wrote zeros until the disk was full, so a nearly full disk was kept full,
/// and the journal's own appends could then fail and stop ledgerd acknowledging.
final class SegmentSpare: @unchecked Sendable {
    // @unchecked: `state` and `attemptCount` are read and written only under `lock`.
    /// Not a segment name, so no reader, recovery or retention ever looks at it.
    static let fileName = "segment-next.zero"

    /// Room left for everything else on the filesystem besides the current segment (the heads
    /// snapshot, the relay's cursor and state, logs).
    static let headroom: Int64 = 64 << 20

    /// The free space a spare of `segmentSize` must leave behind: enough for the current
    /// segment to grow by a whole segment by appending (it does when it was not zero-filled),
    /// plus `headroom`.
    static func defaultReserve(segmentSize: Int64) -> Int64 { segmentSize + headroom }

    let path: String
    let size: Int64
    /// A spare is prepared only while the filesystem would keep at least this much free after it.
    let reserve: Int64
    private let directory: String
    private let log: Logger?
    private let lock = Lock()
    private var state = State.idle
    private var attemptCount = 0
    private let queue = DispatchQueue(label: "ledger.journal.spare", qos: .utility)
    private let done = DispatchGroup()

    enum State {
        /// `unavailable`: the attempt for this segment failed or was skipped; no new one until `take`.
        case idle, preparing, ready(FileDescriptor), unavailable
    }

    init(journalDirectory: String, size: Int64, reserve: Int64, log: Logger?) {
        directory = journalDirectory
        path = journalDirectory + "/" + Self.fileName
        self.size = size
        self.reserve = reserve
        self.log = log
    }

    /// Waits for a preparation under way, then closes and removes the spare.
    deinit {
        done.wait()
        if case let .ready(fd) = state { try? fd.close() }
        try? FileSystem.unlink(path, ignoreMissing: true)
    }

    /// A spare left by an earlier run may be half written or hold a header: never reuse it.
    static func removeLeftover(journalDirectory: String) throws {
        try FileSystem.unlink(journalDirectory + "/" + fileName, ignoreMissing: true)
    }

    /// Starts zero-filling a spare unless one is ready, being prepared, or this segment's attempt
    /// already failed. Each attempt that fails or is skipped is logged once; the writer then
    /// starts its next segment by appending.
    func prepareInBackground() {
        let start = lock.withLock { () -> Bool in
            guard case .idle = state else { return false }
            state = .preparing
            attemptCount += 1
            return true
        }
        guard start else { return }
        queue.async(group: done) { [self] in
            let result = prepare()
            lock.withLock { state = result }
        }
    }

    private func prepare() -> State {
        let available: Int64
        do {
            available = try FileSystem.availableBytes(directory)
        } catch {
            log?.warn("could not check free space for a zero-filled journal segment; the next one grows by appending",
                      ["path": path, "error": error])
            return .unavailable
        }
        guard available - size >= reserve else {
            log?.warn("not preparing a zero-filled journal segment: too little free space; the next one grows by appending",
                      ["path": path, "available_bytes": available, "spare_bytes": size, "reserve_bytes": reserve])
            return .unavailable
        }
        do {
            let fd = try FileDescriptor.open(path, .writeOnly, options: [.create, .truncate], permissions: 0o640)
            do {
                try fd.setPermissions(0o640)
                try ZeroFill.fill(fd, from: 0, to: size, paced: true)
                return .ready(fd)
            } catch {
                try? fd.close()
                try? FileSystem.unlink(path, ignoreMissing: true)
                throw error
            }
        } catch {
            log?.warn("could not prepare a zero-filled journal segment; the next one grows by appending",
                      ["path": path, "error": error])
            return .unavailable
        }
    }

    /// Called at each rotation. Returns the prepared spare's descriptor (opened for writing,
    /// `size` zero bytes, synced), or nil when none is ready; the caller owns the descriptor and
    /// renames the file. A failed attempt is forgotten here: the new segment may try once again.
    func take() -> FileDescriptor? {
        lock.withLock {
            switch state {
            case let .ready(fd):
                state = .idle
                return fd
            case .unavailable:
                state = .idle
                return nil
            case .idle, .preparing:
                return nil
            }
        }
    }

    /// How many preparations were started (for tests and diagnosis).
    var attempts: Int { lock.withLock { attemptCount } }

    /// For tests: waits until a preparation under way has finished.
    func waitUntilPrepared() { done.wait() }
}
