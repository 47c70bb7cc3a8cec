import Foundation
import LedgerJournal
import LedgerPosix

/// The reading side of the pipeline, on its own thread: journal → batches → upload queue
/// (in order) and seal pool (zlib and signature, on other threads). It runs ahead of the
/// uploader by at most the queue's capacity, so reading, compression and signing of the
/// next batches overlap the upload in flight.
final class Producer: @unchecked Sendable {
    // @unchecked: `stopping` and `recut` are guarded by `lock`; the rest belongs to the
    // producer thread.
    private let batcher: Batcher
    private let pool: SealPool
    private let watcher: JournalWatcher
    private let queue: BatchQueue
    private let board: StatusBoard
    private let lingerNanos: UInt64
    private let log: Logger
    private let lock = Lock()
    private var stopping = false
    /// A new cut the delivery window asked for (after a 413), not applied yet.
    private var recut: RecutRequest?
    /// The cut the batches dispatched now belong to.
    private var cut = 0

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

    /// Asks the producer thread to cut the journal again (DeliveryWindow, after a 413); it
    /// applies the request before it cuts anything else.
    func requestRecut(_ request: RecutRequest) {
        lock.withLock { recut = request }
        watcher.wake()
    }

    /// On the producer thread: restarts the batcher where the refused batch started and drops
    /// the queued batches of the old cut. Batches of the old cut already taken by the uploader
    /// are dropped by the window, which knows the new cut number.
    private func applyRecut() {
        guard let request = lock.withLock({ () -> RecutRequest? in
            defer { recut = nil }
            return recut
        }) else { return }
        cut = request.cut
        batcher.restart(after: request.afterHostSeq, maxBytes: request.maxBytes)
        queue.discard { $0.cut < request.cut }
        log.info("cutting the journal again in smaller batches", [
            "from_host_seq": request.firstHostSeq, "batch_bytes": request.maxBytes, "cut": request.cut])
    }

    func run() {
        var failing = false
        while !isStopping {
            applyRecut()
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
        var batch = batch
        batch.cut = cut
        let ticket = SealTicket(batch)
        // INVARIANT: queued for upload before any seal thread sees it, in cut order.
        guard queue.push(ticket) else { return false }
        pool.submit(ticket)
        return true
    }
}
