// INVARIANT: `durable` is published only after JournalWriter.sync() (fdatasync)
// returned for every frame up to it; the event loop releases `ok` responses
// only up to `durable` (ARCHITECTURE.md invariant 1).
//
// Group commit: the event loop hands over whole batches of frames under one lock
// per loop iteration (never per event). While this thread sits in fdatasync, the
// loop keeps adding to `pending`; the next round writes all of it and one
// fdatasync covers it all, so throughput does not collapse to one fsync per event.

import Dispatch
internal import Glibc
import LedgerJournal
import LedgerPosix

/// The journal thread: writes handed-over batches, syncs, runs retention, and wakes the loop.
final class GroupCommitter: @unchecked Sendable {
    // @unchecked: every field below `lock` is read and written only under it; `writer`
    // and `retentionDue` belong to the journal thread alone.

    /// What the journal thread reports to the loop.
    struct Progress {
        var durable: UInt64
        var failure: String?
        var diskBytes: Int64
        /// Frame bytes written so far (cumulative), to reconcile the loop's disk estimate.
        var writtenBytes: Int64
        var segments: Int
        var ackedHostSeq: UInt64?
        var stopped: Bool
    }

    private let writer: JournalWriter
    private let policy: RetentionPolicy
    private let wake: EventFD
    private let log: Logger
    private let semaphore = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)

    private let lock = Lock()
    private var pending: [UInt8] = []
    private var pendingLast: UInt64 = 0
    private var stopRequested = false
    private var pressure = false
    private var progress: Progress

    /// Retention runs at most this often (and after a refusal for lack of space).
    private let retentionIntervalMicros: Int64 = 10_000_000
    /// Tests: nothing is written while this file exists (DaemonConfiguration.journalHoldFile).
    private let holdFile: String?

    init(writer: JournalWriter, policy: RetentionPolicy, wake: EventFD, log: Logger, holdFile: String? = nil) {
        self.writer = writer
        self.policy = policy
        self.wake = wake
        self.log = log
        self.holdFile = holdFile
        progress = Progress(durable: writer.durableHostSeq, failure: nil, diskBytes: writer.diskBytes, writtenBytes: 0,
                            segments: writer.segments.count, ackedHostSeq: nil, stopped: false)
    }

    func start() {
        DispatchQueue(label: "ledgerd.journal").async { self.run() }
    }

    /// Hands over a batch of frames ending at host_seq `last`, their CRCs not yet filled in.
    /// Swaps buffers when the thread has taken the previous batch, so no bytes are copied in
    /// the common case.
    func submit(_ batch: inout [UInt8], last: UInt64) {
        lock.withLock {
            if pending.isEmpty {
                swap(&pending, &batch)
            } else {
                pending.append(contentsOf: batch)
            }
            pendingLast = last
        }
        batch.removeAll(keepingCapacity: true)
        semaphore.signal()
    }

    /// Asks for a retention pass now (the disk cap refused a line).
    func requestPressureRetention() {
        let first = lock.withLock { () -> Bool in
            defer { pressure = true }
            return !pressure
        }
        if first { semaphore.signal() }
    }

    var snapshot: Progress { lock.withLock { progress } }

    /// The durable host_seq alone, cheaper than `snapshot` for a per-event check.
    var durableHostSeq: UInt64 { lock.withLock { progress.durable } }

    /// Writes and syncs what was handed over, then stops the thread and waits for it.
    func stop() {
        lock.withLock { stopRequested = true }
        semaphore.signal()
        finished.wait()
    }

    private func run() {
        var writing: [UInt8] = []
        var lastRetention: Int64 = 0
        var written: Int64 = 0
        while true {
            _ = semaphore.wait(timeout: .now() + .seconds(1))
            holdWhileAsked()
            var last: UInt64 = 0
            var stop = false
            var underPressure = false
            lock.withLock {
                swap(&pending, &writing)
                last = pendingLast
                stop = stopRequested
                underPressure = pressure
            }
            if !writing.isEmpty {
                let first = writer.lastHostSeq + 1
                // The loop leaves frame CRCs to this thread, which otherwise waits for the disk:
                // about a tenth of the loop's CPU per event (perf, crc32_z), and the loop is the
                // thread that caps throughput.
                writing.withUnsafeMutableBytes { JournalFrame.fillChecksums($0) }
                do {
                    try writing.withUnsafeBytes { try writer.append($0, first: first, last: last) }
                    try writer.sync()
                    written += Int64(writing.count)
                } catch {
                    log.error("journal write failed; refusing records until restart", ["error": error])
                }
                writing.removeAll(keepingCapacity: true)
                publish(written: written)
            }
            let now = SystemClock.nowMicroseconds()
            if underPressure || now - lastRetention >= retentionIntervalMicros {
                lastRetention = now
                do {
                    let result = try writer.applyRetention(policy, now: now, underPressure: underPressure, log: log)
                    lock.withLock {
                        progress.ackedHostSeq = result.ackedHostSeq
                        pressure = false
                    }
                    if result.deletedSegments > 0 { publish(written: written) }
                } catch {
                    lock.withLock { pressure = false }
                    log.error("retention failed", ["error": error])
                }
            }
            if stop {
                lock.withLock { progress.stopped = true }
                finished.signal()
                return
            }
        }
    }

    private func holdWhileAsked() {
        guard let holdFile else { return }
        while FileSystem.exists(holdFile) && !lock.withLock({ stopRequested }) { usleep(10_000) }
    }

    private func publish(written: Int64) {
        lock.withLock {
            progress.durable = writer.durableHostSeq
            progress.failure = writer.failureReason
            progress.diskBytes = writer.diskBytes
            progress.writtenBytes = written
            progress.segments = writer.segments.count
        }
        try? wake.signal()
    }
}
