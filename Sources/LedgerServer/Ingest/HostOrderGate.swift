// INVARIANT (ARCHITECTURE.md 4): a host's batches reach the store in host_seq order. A
// relay with several batches in flight sends batch N+1 before N is answered, and the
// server verifies requests on their own connection threads, so N+1 can be ready first.
// The gate holds a verified batch that declared its predecessor p (X-Ledger-Predecessor,
// docs/FORMAT.md §5) until this process has seen the host's stored host_seq reach p,
// then lets it go to the store. The store checks again inside the transaction
// (RelayBatchApplier: `predecessorPending`), so the gate is only about waiting well: it
// never decides what is stored.
//
// Every wait is bounded:
//   - predecessor committed (here, or seen in the store)  → proceed
//   - predecessor failed here (fork, store error, its own wait timed out, store said
//     pending) → its waiters are answered at once (503 PREDECESSOR_FAILED), not left to time out
//   - `maxWait` passed                                    → 503 PREDECESSOR_PENDING
//   - more than `maxWaitersPerHost` already waiting       → 503 at once (bounds the memory
//     of held batches; a relay keeps only a few in flight)
//
// Per process: with several servers on one PostgreSQL, a predecessor committed by another
// server is seen by polling the store every `pollInterval` while waiting.

import Foundation

/// Orders a host's pipelined relay batches before their store transaction. Thread-safe.
final class HostOrderGate: @unchecked Sendable {
    enum Admission: Equatable {
        /// The predecessor is stored: apply the batch now.
        case proceed
        /// The predecessor did not become stored within the wait; `storedHostSeq` is the last seen.
        case timedOut(storedHostSeq: UInt64)
        /// The batch the predecessor was in failed here; `reason` says how.
        case predecessorFailed(String)
        /// Too many batches of this host are already waiting.
        case tooManyWaiting
    }

    /// One host's view: guarded by `condition`.
    private final class HostLine: @unchecked Sendable {
        let condition = NSCondition()
        /// The highest host_seq this process has seen stored for the host.
        var stored: UInt64 = 0
        var waiting = 0
        /// The last failed batch that waiters may depend on, until the host's stored host_seq
        /// passes its start, a new attempt covering it is admitted, or it expires.
        var failure: (firstHostSeq: UInt64, reason: String, expiresAtNanos: UInt64)?
    }

    let maxWaitNanos: UInt64
    let pollIntervalNanos: UInt64
    let maxWaitersPerHost: Int
    private let lock = NSLock()
    private var lines: [String: HostLine] = [:]

    init(maxWaitMillis: Int, pollIntervalMillis: Int = 100, maxWaitersPerHost: Int = 32) {
        maxWaitNanos = UInt64(max(0, maxWaitMillis)) * 1_000_000
        pollIntervalNanos = UInt64(max(1, pollIntervalMillis)) * 1_000_000
        self.maxWaitersPerHost = maxWaitersPerHost
    }

    private func line(_ hostID: String) -> HostLine {
        lock.lock()
        defer { lock.unlock() }
        if let line = lines[hostID] { return line }
        let line = HostLine()
        lines[hostID] = line
        return line
    }

    /// Whether the host's stream is stored through `predecessor` as far as this process knows
    /// (`storedHint`: a recent read of the store), so that `admit` would not wait. Never blocks.
    func isStored(hostID: String, through predecessor: UInt64, storedHint: UInt64) -> Bool {
        let line = line(hostID)
        line.condition.lock()
        defer { line.condition.unlock() }
        line.stored = max(line.stored, storedHint)
        return predecessor <= line.stored
    }

    /// Waits until the host's stored host_seq reaches `predecessor` (the batch `batchSeq` …
    /// `lastHostSeq` declared it). `storedHint` is a recent read of the stored host_seq;
    /// `readStored` reads it again (polled while waiting, for commits by other servers).
    func admit(hostID: String, batchSeq: UInt64, lastHostSeq: UInt64, predecessor: UInt64, storedHint: UInt64,
               readStored: () throws -> UInt64?) -> Admission {
        let line = line(hostID)
        let condition = line.condition
        condition.lock()
        defer { condition.unlock() }
        line.stored = max(line.stored, storedHint)
        // This batch is a new attempt at the failed range: its successors should wait for it again.
        if let failure = line.failure, batchSeq <= failure.firstHostSeq, lastHostSeq >= failure.firstHostSeq {
            line.failure = nil
        }
        let start = DispatchTime.now().uptimeNanoseconds
        let deadline = start + maxWaitNanos
        var nextPoll = start + pollIntervalNanos
        var counted = false
        defer { if counted { line.waiting -= 1 } }
        while true {
            if predecessor <= line.stored { return .proceed }
            let now = DispatchTime.now().uptimeNanoseconds
            if let failure = line.failure {
                if failure.firstHostSeq <= line.stored || now >= failure.expiresAtNanos {
                    line.failure = nil
                } else if predecessor >= failure.firstHostSeq {
                    return .predecessorFailed(failure.reason)
                }
            }
            if now >= deadline { return .timedOut(storedHostSeq: line.stored) }
            if !counted {
                guard line.waiting < maxWaitersPerHost else { return .tooManyWaiting }
                line.waiting += 1
                counted = true
            }
            if now >= nextPoll {
                condition.unlock()
                let read = try? readStored()
                condition.lock()
                if let read { line.stored = max(line.stored, read) }
                nextPoll = DispatchTime.now().uptimeNanoseconds + pollIntervalNanos
                continue
            }
            let wakeAt = min(deadline, nextPoll)
            _ = condition.wait(until: Date(timeIntervalSinceNow: Double(wakeAt - now) / 1e9))
        }
    }

    /// The store holds the host's stream through `lastHostSeq` (a batch stored or replayed).
    func stored(hostID: String, through lastHostSeq: UInt64) {
        let line = line(hostID)
        line.condition.lock()
        if lastHostSeq > line.stored {
            line.stored = lastHostSeq
            line.condition.broadcast()
        }
        line.condition.unlock()
    }

    /// The batch starting at `firstHostSeq` was not stored: waiters that need it are answered now.
    func failed(hostID: String, firstHostSeq: UInt64, reason: String) {
        let line = line(hostID)
        line.condition.lock()
        if firstHostSeq > line.stored {
            // The earliest failure wins: every waiter past it needs it, and it is retried first.
            if let failure = line.failure, failure.firstHostSeq < firstHostSeq {} else {
                line.failure = (firstHostSeq, reason, DispatchTime.now().uptimeNanoseconds + maxWaitNanos)
            }
            line.condition.broadcast()
        }
        line.condition.unlock()
    }

    /// Batches waiting for `hostID` now (tests).
    func testOnly_waiting(hostID: String) -> Int {
        let line = line(hostID)
        line.condition.lock()
        defer { line.condition.unlock() }
        return line.waiting
    }
}
