import Foundation

// Decompressed relay batches are the largest allocations the server makes for a request
// (up to --max-batch-bytes each), and relays send many at once. The budget bounds their sum:
// a batch takes its bytes piece by piece while it decompresses (so a small batch never waits
// for a large reservation) and gives them back when its request ends, since the decompressed
// body is the buffer its rows are stored from. A batch that finds the budget spent stops
// decompressing and is answered 503 with Retry-After, which relays retry.

/// Bytes of decompressed relay batches held at once, shared by all requests.
final class DecompressionBudget: @unchecked Sendable {
    let limit: Int
    private let lock = NSLock()
    // Guarded by `lock`.
    private var used = 0

    init(limit: Int) { self.limit = limit }

    /// Takes `count` bytes when they fit.
    func take(_ count: Int) -> Bool {
        lock.lock(); defer { lock.unlock() }
        guard count <= limit - used else { return false }
        used += count
        return true
    }

    func give(_ count: Int) {
        lock.lock(); used -= count; lock.unlock()
    }

    var inUse: Int {
        lock.lock(); defer { lock.unlock() }
        return used
    }
}

/// What one request took from the budget; given back when the claim goes away (the request's
/// work ended, `.later` work included).
final class BudgetClaim: @unchecked Sendable {
    private let budget: DecompressionBudget
    // Only the request's thread touches it while it decompresses.
    private(set) var held = 0

    init(_ budget: DecompressionBudget) { self.budget = budget }

    func take(_ count: Int) -> Bool {
        guard budget.take(count) else { return false }
        held += count
        return true
    }

    deinit { budget.give(held) }
}
