// INVARIANT (ARCHITECTURE.md 3 and 4): a ticket is queued for upload *before* its batch is
// sealed, in the order the batcher cut the batches, so the uploader sends batches in
// host_seq order however the seal threads finish. A ticket always ends sealed (sealing is
// retried, never skipped) unless the relay is stopping.

import Foundation

/// One cut batch on its way through the seal pool: the uploader takes tickets from the
/// queue in order and waits for each to be sealed, while later tickets are sealed on other
/// threads. Thread-safe.
final class SealTicket: @unchecked Sendable {
    // @unchecked: `pending`, `sealed`, `handedOver` and `cancelled` are only touched under `condition`.
    private let condition = NSCondition()
    private var pending: PendingBatch?
    private var sealed: SealedBatch?
    private var handedOver = false
    private var cancelled = false
    let firstHostSeq: UInt64
    let lastHostSeq: UInt64
    let cut: Int

    init(_ batch: PendingBatch) {
        pending = batch
        firstHostSeq = batch.firstHostSeq
        lastHostSeq = batch.lastHostSeq
        cut = batch.cut
    }

    /// A ticket that is already sealed (the caller sealed in place).
    init(sealed batch: SealedBatch) {
        sealed = batch
        firstHostSeq = batch.firstHostSeq
        lastHostSeq = batch.lastHostSeq
        cut = batch.cut
    }

    /// Hands the body to a seal thread; nil if another thread took it or the relay is stopping.
    func takeForSealing() -> PendingBatch? {
        condition.lock()
        defer { condition.unlock() }
        guard !cancelled else { return nil }
        defer { pending = nil }
        return pending
    }

    /// Stores the seal thread's result and wakes the uploader.
    func fulfil(_ batch: SealedBatch) {
        condition.lock()
        sealed = batch
        condition.broadcast()
        condition.unlock()
    }

    /// Waits until sealed and hands the batch over, once (nil on a second call); nil once
    /// `cancel()` was called (the relay is stopping). The ticket keeps no copy: the delivery window holds the batch until
    /// the server took it, and nothing else may keep its compressed body alive after that.
    func wait() -> SealedBatch? {
        condition.lock()
        defer { condition.unlock() }
        while sealed == nil && !cancelled && !handedOver { condition.wait() }
        guard !cancelled, let batch = sealed else { return nil }
        sealed = nil
        handedOver = true
        return batch
    }

    /// Stops the wait and drops the work (shutdown only: the cursor has not moved past it,
    /// so the next start cuts the same range again).
    func cancel() {
        condition.lock()
        cancelled = true
        pending = nil
        sealed = nil
        condition.broadcast()
        condition.unlock()
    }
}
