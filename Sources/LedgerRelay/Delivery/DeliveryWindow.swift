// INVARIANT (ARCHITECTURE.md 3 and 4): batches enter the window in host_seq order and
// leave it only from the front, once acknowledged: the cursor is moved over a contiguous
// prefix of 2xx answers, never past a batch the server has not taken. A batch is never
// skipped: a failed one goes back to `waiting` and is sent again, before its successors.
//
// Several batches are in flight at once (one per sender thread). The server applies
// them in order whatever order they arrive in, because each declares its predecessor
// (docs/FORMAT.md §5). When one fails, the window enters a failure round:
//   1. no new sends; the answers of those still in flight are taken as they come (a 2xx
//      still counts: the server holds that batch and, by its declared predecessor,
//      everything before it);
//   2. after the backoff delay, the first unacknowledged batch is sent alone (the probe);
//   3. its 2xx ends the round and the window opens again; its failure starts the next
//      round with a longer delay. Failures of batches sent before the round started are
//      consequences (a successor answered 503 PREDECESSOR_FAILED) and do not lengthen it.
// 401/403/409 halt the window until `resume()` (SIGHUP), then the probe goes first.
//
// A 413 for the first unacknowledged batch starts a new cut: that batch and every one behind
// it leave the window unsent, and the producer cuts the journal again from the same point
// (the batch's declared predecessor, which the server holds: everything before it was
// acknowledged) into batches of at most half its size. Batches of the old cut still on their
// way (queued, being sealed, in flight) are recognised by their `cut` number and dropped; their
// answers change nothing. The new first batch declares the same predecessor as the refused one,
// so the server sees the same stream, only in smaller pieces; a piece it already holds (after
// a lost answer) is answered as a replay.

import Foundation
import LedgerPosix

/// The batches between the batch queue and the cursor: in flight, waiting to be (re)sent, or
/// acknowledged behind an older one that is not. Thread-safe.
final class DeliveryWindow: @unchecked Sendable {
    // @unchecked: every property is only touched under `condition`.
    private enum SlotState: Equatable {
        case waiting
        case sending(round: Int)
        case acknowledged(replay: Bool)
    }

    private struct Slot {
        let batch: SealedBatch
        var state: SlotState
    }

    /// A batch handed to a sender; `round` tells its answer apart from a later send's.
    struct Send {
        let batch: SealedBatch
        let round: Int
    }

    /// What a sender must do after reporting an answer.
    enum Settlement {
        /// These batches (in order) left the window acknowledged: advance the cursor to the
        /// last. `recovered`: the probe of a failure round went through. `healthy`: no failure
        /// round or halt is under way (the status may say `forwarding`).
        case released([SealedBatch], replays: Int, recovered: Bool, healthy: Bool)
        /// A failure started a round (log it and report it); the probe goes after `delayMillis`.
        case newRound(delayMillis: Int, failures: Int)
        /// A failure within a round already under way: the batch waits for the probe.
        case absorbed
        /// The server refused the relay; the first halt of a round (log it once).
        case halted(first: Bool)
        /// The first unacknowledged batch was too large: it and its successors left the window;
        /// the producer must cut again as `request` says.
        case recut(RecutRequest)
        /// The answer to a batch of an abandoned cut: it no longer matters.
        case stale
    }

    let capacity: Int
    private let condition = NSCondition()
    private var slots: [Slot] = []
    private var backoff: Backoff
    private var round = 0
    private var recovering = false
    private var halted = false
    private var stopping = false
    private var probeAtNanos: UInt64 = 0
    /// The current cut; batches of an earlier one are dropped (see the 413 rule above).
    private var cut = 0

    init(capacity: Int, backoff: Backoff) {
        self.capacity = capacity
        self.backoff = backoff
    }

    /// Waits for room, then adds `batch` behind the others; a batch of an abandoned cut is
    /// dropped instead. False when stopping.
    func append(_ batch: SealedBatch) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while true {
            if stopping { return false }
            if batch.cut < cut { return true }
            if slots.count < capacity { break }
            condition.wait()
        }
        precondition(batch.cut == cut, "a batch of a cut the window has not started")
        slots.append(Slot(batch: batch, state: .waiting))
        condition.broadcast()
        return true
    }

    /// The current cut: a batch cut before it will be dropped, so it need not be sealed or sent.
    var currentCut: Int {
        condition.lock()
        defer { condition.unlock() }
        return cut
    }

    /// Waits for a batch this sender may send now; nil when stopping.
    func next() -> Send? {
        condition.lock()
        defer { condition.unlock() }
        while !stopping {
            if !halted, let index = sendableIndex() {
                slots[index].state = .sending(round: round)
                return Send(batch: slots[index].batch, round: round)
            }
            if !halted, recovering, probeAtNanos > SystemClock.monotonicNanoseconds(),
               !slots.contains(where: { if case .sending = $0.state { true } else { false } }) {
                let wait = Double(probeAtNanos - SystemClock.monotonicNanoseconds()) / 1e9
                _ = condition.wait(until: Date(timeIntervalSinceNow: max(0, wait)))
            } else {
                condition.wait()
            }
        }
        return nil
    }

    /// The slot to send next: in a failure round only the first, alone and after the delay;
    /// otherwise the oldest waiting one.
    private func sendableIndex() -> Int? {
        if recovering {
            guard let first = slots.first, first.state == .waiting,
                  !slots.contains(where: { if case .sending = $0.state { true } else { false } }),
                  SystemClock.monotonicNanoseconds() >= probeAtNanos else { return nil }
            return 0
        }
        return slots.firstIndex { $0.state == .waiting }
    }

    /// Records the server's verdict on `send`.
    func finish(_ send: Send, _ verdict: ServerVerdict) -> Settlement {
        condition.lock()
        defer {
            condition.broadcast()
            condition.unlock()
        }
        guard let index = slots.firstIndex(where: {
            $0.batch.cut == send.batch.cut && $0.batch.firstHostSeq == send.batch.firstHostSeq
        }) else {
            precondition(send.batch.cut < cut, "a batch in flight left the window")
            return .stale
        }
        switch verdict {
        case let .delivered(replay):
            slots[index].state = .acknowledged(replay: replay)
            var released: [SealedBatch] = []
            var replays = 0
            while let first = slots.first, case let .acknowledged(wasReplay) = first.state {
                released.append(first.batch)
                if wasReplay { replays += 1 }
                slots.removeFirst()
            }
            // Only the probe ends a round: a straggler's 2xx says nothing about the failure.
            var recovered = false
            if recovering, send.round == round {
                recovering = false
                recovered = backoff.failures > 0
                backoff.reset()
            } else if !recovering {
                backoff.reset()
            }
            return .released(released, replays: replays, recovered: recovered, healthy: !recovering && !halted)
        case let .retry(_, retryAfterMillis):
            slots[index].state = .waiting
            return failureRound(send, retryAfterMillis: retryAfterMillis)
        case .rejected:
            slots[index].state = .waiting
            return failureRound(send)
        case .tooLarge:
            slots[index].state = .waiting
            if halted { return .absorbed }
            // Behind an unacknowledged batch, this one may yet be stored by the probe's round
            // (a 413 from a flaky proxy); once it is the first, a new cut is safe (see above).
            guard index == 0 else { return failureRound(send) }
            let front = slots[0].batch
            // One record cannot be cut smaller (the verdict is then `stop`, this is a backstop).
            guard front.count > 1 else { return halt() }
            cut += 1
            slots.removeAll()
            // Not a failure of the network or the server: the smaller batches go at once.
            recovering = false
            round += 1
            return .recut(RecutRequest(cut: cut, afterHostSeq: front.predecessorHostSeq,
                                       firstHostSeq: front.firstHostSeq, refusedBytes: front.bodyBytes,
                                       refusedRecords: front.count, maxBytes: max(1, front.bodyBytes / 2)))
        case .stop:
            slots[index].state = .waiting
            return halt()
        }
    }

    /// A failure of the current round starts the next one; of an earlier round, it is absorbed.
    /// The probe waits the backoff delay, and at least the server's Retry-After up to the cap.
    private func failureRound(_ send: Send, retryAfterMillis: Int? = nil) -> Settlement {
        guard send.round == round, !halted else { return .absorbed }
        round += 1
        recovering = true
        let delay = max(backoff.nextDelayMillis(), min(retryAfterMillis ?? 0, backoff.capMillis))
        probeAtNanos = SystemClock.monotonicNanoseconds() + UInt64(delay) * 1_000_000
        return .newRound(delayMillis: delay, failures: backoff.failures)
    }

    private func halt() -> Settlement {
        let first = !halted
        halted = true
        recovering = true
        round += 1
        return .halted(first: first)
    }

    /// SIGHUP: a halted window sends its first batch again at once.
    func resume() -> Bool {
        condition.lock()
        defer {
            condition.broadcast()
            condition.unlock()
        }
        guard halted else { return false }
        halted = false
        backoff.reset()
        probeAtNanos = 0
        return true
    }

    /// Wakes every waiter; `next` and `append` return at once from now on.
    func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        condition.unlock()
    }

    /// Batches in the window (in flight, waiting or acknowledged behind an older one).
    var count: Int {
        condition.lock()
        defer { condition.unlock() }
        return slots.count
    }

    /// Checks the window's invariants (tests): slots in host_seq order, at most `capacity`,
    /// the front never acknowledged (it would have left), nothing in flight while halted
    /// except sends of an earlier round.
    func testOnly_verifyInvariants() -> Bool {
        condition.lock()
        defer { condition.unlock() }
        let ordered = zip(slots, slots.dropFirst()).allSatisfy { $0.batch.lastHostSeq < $1.batch.firstHostSeq }
        let frontOpen = slots.first.map { if case .acknowledged = $0.state { false } else { true } } ?? true
        let roundsSane = slots.allSatisfy { if case let .sending(r) = $0.state { r <= round } else { true } }
        let oneCut = slots.allSatisfy { $0.batch.cut == cut }
        let chained = zip(slots, slots.dropFirst()).allSatisfy { $1.batch.predecessorHostSeq == $0.batch.lastHostSeq }
        return ordered && frontOpen && roundsSane && oneCut && chained && slots.count <= capacity
    }
}

/// What the producer must do after a 413: cut the journal again after `afterHostSeq` (the
/// refused batch's declared predecessor, which the server holds) into batches of at most
/// `maxBytes`, numbered `cut`, and drop every batch of an earlier cut it still holds.
struct RecutRequest: Equatable, Sendable {
    let cut: Int
    let afterHostSeq: UInt64
    /// The refused batch, for the log.
    let firstHostSeq: UInt64
    let refusedBytes: Int
    let refusedRecords: Int
    let maxBytes: Int
}
