import Foundation

/// A bounded FIFO between the producer (reader, batcher, sealer) and the uploader: the
/// producer runs ahead by at most `capacity` sealed batches, then waits. Thread-safe.
final class BatchQueue: @unchecked Sendable {
    // @unchecked: `items` and `closed` are only touched under `condition`.
    private let condition = NSCondition()
    private var items: [SealedBatch] = []
    private var closed = false
    let capacity: Int

    init(capacity: Int) { self.capacity = capacity }

    /// Waits for room, then appends. Returns false when the queue was closed.
    func push(_ batch: SealedBatch) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while items.count >= capacity && !closed { condition.wait() }
        guard !closed else { return false }
        items.append(batch)
        condition.broadcast()
        return true
    }

    /// Waits for a batch; nil once the queue is closed.
    func pop() -> SealedBatch? {
        condition.lock()
        defer { condition.unlock() }
        while items.isEmpty && !closed { condition.wait() }
        guard !closed else { return nil }
        let batch = items.removeFirst()
        condition.broadcast()
        return batch
    }

    /// Wakes every waiter; later calls return at once.
    func close() {
        condition.lock()
        closed = true
        condition.broadcast()
        condition.unlock()
    }

    var count: Int {
        condition.lock()
        defer { condition.unlock() }
        return items.count
    }
}
