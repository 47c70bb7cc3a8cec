import Foundation
import LedgerJournal
import LedgerPosix

/// The reading side of the pipeline, on its own thread: journal → batches → upload queue
/// (in order) and seal pool (zlib and signature, on other threads). It runs ahead of the
/// uploader by at most the queue's capacity, so reading, compression and signing of the
/// next batches overlap the upload in flight.
final class Producer: @unchecked Sendable {
    // @unchecked: `stopping` is guarded by `lock`; the rest belongs to the producer thread.
    private let batcher: Batcher
    private let pool: SealPool
    private let watcher: JournalWatcher
    private let queue: BatchQueue
    private let board: StatusBoard
    private let lingerNanos: UInt64
    private let log: Logger
    private let lock = Lock()
    private var stopping = false

    init(batcher: Batcher, pool: SealPool, watcher: JournalWatcher, queue: BatchQueue, board: StatusBoard,
         lingerMillis: Int, log: Logger) {
        self.batcher = batcher
        self.pool = pool
        self.watcher = watcher
        self.queue = queue
        self.board = board
        self.lingerNanos = UInt64(lingerMillis) * 1_000_000
        self.log = log
    }

    func stop() {
        lock.withLock { stopping = true }
        watcher.wake()
    }

    private var isStopping: Bool { lock.withLock { stopping } }

    func run() {
        var failing = false
        while !isStopping {
            do {
                if let full = try batcher.fill() {
                    guard dispatch(full) else { return }
                } else if let deadline = batcher.deadline(lingerNanos: lingerNanos) {
                    let now = SystemClock.monotonicNanoseconds()
                    if now >= deadline, let due = batcher.take() {
                        guard dispatch(due) else { return }
                    } else {
                        try watcher.wait(timeoutNanos: deadline - now)
                    }
                } else {
                    try watcher.wait(timeoutNanos: nil)
                }
                if failing {
                    failing = false
                    log.info("reading the journal again")
                }
            } catch {
                // A checkpoint caught mid-rewrite, a segment being rotated: wait and read again.
                // The batcher's position only moves past records it kept, so nothing is lost.
                if !failing {
                    log.warn("cannot read the journal; retrying", ["error": "\(error)"])
                    board.update { $0.lastError = "journal: \(error)" }
                }
                failing = true
                try? watcher.wait(timeoutNanos: 500_000_000)
            }
        }
    }

    /// Queues the batch for upload, then for sealing; false once the queue is closed.
    private func dispatch(_ batch: PendingBatch) -> Bool {
        let ticket = SealTicket(batch)
        // INVARIANT: queued for upload before any seal thread sees it, in cut order.
        guard queue.push(ticket) else { return false }
        pool.submit(ticket)
        return true
    }
}
