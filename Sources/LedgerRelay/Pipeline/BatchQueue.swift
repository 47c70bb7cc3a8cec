import Foundation

/// A bounded FIFO between the producer (reader and batcher) and the uploader: the producer
/// runs ahead by at most `capacity` batches, sealed or still being sealed by the `SealPool`,
/// then waits. FIFO order is upload order. Thread-safe.
final class BatchQueue: @unchecked Sendable {
    // @unchecked: `items` and `closed` are only touched under `condition`.
    private let condition = NSCondition()
    private var items: [SealTicket] = []
    private var closed = false
    let capacity: Int

    init(capacity: Int) { self.capacity = capacity }

    /// Waits for room, then appends. Returns false when the queue was closed.
    func push(_ batch: SealTicket) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while items.count >= capacity && !closed { condition.wait() }
        guard !closed else { return false }
        items.append(batch)
        condition.broadcast()
        return true
    }

    /// Waits for a batch; nil once the queue is closed.
    func pop() -> SealTicket? {
        condition.lock()
        defer { condition.unlock() }
        while items.isEmpty && !closed { condition.wait() }
        guard !closed else { return nil }
        let batch = items.removeFirst()
        condition.broadcast()
        return batch
    }

    /// Wakes every waiter and cancels the tickets still queued; later calls return at once.
    func close() {
        condition.lock()
        closed = true
        let dropped = items
        items.removeAll()
        condition.broadcast()
        condition.unlock()
        // Shutdown only: nothing was acknowledged for these, the next start cuts them again.
        for ticket in dropped { ticket.cancel() }
    }

    /// Removes and cancels the queued tickets `abandoned` selects (batches of a cut given up
    /// after a 413: nothing of them was acknowledged, the new cut covers their records).
    func discard(where abandoned: (SealTicket) -> Bool) {
        condition.lock()
        let dropped = items.filter(abandoned)
        items.removeAll(where: abandoned)
        condition.broadcast()
        condition.unlock()
        for ticket in dropped { ticket.cancel() }
    }

    var count: Int {
        condition.lock()
        defer { condition.unlock() }
        return items.count
    }
}
