import Foundation
@testable import LedgerRelay
import Testing

/// The DeliveryWindow's rules (docs/RELAY.md "Delivery, ordering and the cursor"): the cursor
/// moves over a contiguous prefix of 2xx answers only; a failure holds new sends, then the first
/// unacknowledged batch goes alone; a halt waits for SIGHUP.
@Suite struct DeliveryWindowTests {
    static func batch(_ first: UInt64, _ count: UInt64 = 10, predecessor: UInt64? = nil) -> SealedBatch {
        SealedBatch(firstHostSeq: first, lastHostSeq: first + count - 1, predecessorHostSeq: predecessor ?? first - 1,
                    count: Int(count), bodyBytes: 0, compressed: [], bodySHA256: "", signature: "")
    }

    static func window(_ capacity: Int) -> DeliveryWindow {
        DeliveryWindow(capacity: capacity, backoff: Backoff(initialMillis: 1, capMillis: 1))
    }

    static func released(_ settlement: DeliveryWindow.Settlement) -> [UInt64]? {
        if case let .released(batches, _, _, _) = settlement { return batches.map(\.firstHostSeq) }
        return nil
    }

    /// `next()` on another thread: nil when it did not return within `seconds`.
    static func next(_ window: DeliveryWindow, within seconds: Double) -> DeliveryWindow.Send? {
        final class Box: @unchecked Sendable { var send: DeliveryWindow.Send? }
        let box = Box()
        let done = DispatchSemaphore(value: 0)
        Thread {
            box.send = window.next()
            done.signal()
        }.start()
        if done.wait(timeout: .now() + seconds) == .success { return box.send }
        window.stop()  // ends the waiting thread; the window is not used after a miss
        done.wait()
        return nil
    }

    @Test func answersOutOfOrderReleaseOnlyTheContiguousPrefix() {
        let window = Self.window(3)
        for first in [1, 11, 21] as [UInt64] { #expect(window.append(Self.batch(first))) }
        let sends = (0..<3).compactMap { _ in window.next() }
        #expect(sends.map(\.batch.firstHostSeq) == [1, 11, 21])
        #expect(Self.released(window.finish(sends[2], .delivered(replay: false))) == [])
        #expect(Self.released(window.finish(sends[1], .delivered(replay: false))) == [])
        #expect(window.testOnly_verifyInvariants())
        #expect(Self.released(window.finish(sends[0], .delivered(replay: false))) == [1, 11, 21])
        #expect(window.count == 0)
    }

    @Test func failureHoldsNewSendsThenProbesTheFirstUnacknowledgedBatchAlone() {
        let window = Self.window(3)
        for first in [1, 11, 21] as [UInt64] { #expect(window.append(Self.batch(first))) }
        let sends = (0..<3).compactMap { _ in window.next() }
        guard case .newRound = window.finish(sends[1], .retry("503")) else {
            Issue.record("the first failure starts a round")
            return
        }
        // Stragglers: a 2xx still counts, a failure is a consequence and does not lengthen the round.
        #expect(Self.released(window.finish(sends[0], .delivered(replay: false))) == [1])
        guard case .absorbed = window.finish(sends[2], .retry("503 PREDECESSOR_FAILED")) else {
            Issue.record("a straggler's failure is absorbed")
            return
        }
        #expect(window.testOnly_verifyInvariants())
        let probe = window.next()
        #expect(probe?.batch.firstHostSeq == 11)
        #expect(Self.next(window, within: 0.2) == nil, "nothing else goes while the probe is out")
    }

    @Test func probeSuccessReopensTheWindowInOrder() throws {
        let window = Self.window(3)
        for first in [1, 11] as [UInt64] { #expect(window.append(Self.batch(first))) }
        let sends = (0..<2).compactMap { _ in window.next() }
        _ = window.finish(sends[0], .retry("no answer"))
        _ = window.finish(sends[1], .retry("503"))
        let probe = try #require(window.next())
        #expect(probe.batch.firstHostSeq == 1)
        guard case let .released(batches, _, recovered, healthy) = window.finish(probe, .delivered(replay: true)) else {
            Issue.record("the probe's 2xx releases it")
            return
        }
        #expect(batches.map(\.firstHostSeq) == [1])
        #expect(recovered && healthy)
        #expect(window.next()?.batch.firstHostSeq == 11)
    }

    /// The probe waits for the server's Retry-After (not just the backoff), up to the backoff cap.
    @Test func theProbeWaitsForRetryAfterUpToTheCap() throws {
        let window = DeliveryWindow(capacity: 2, backoff: Backoff(initialMillis: 1, capMillis: 2_000))
        #expect(window.append(Self.batch(1)))
        let send = try #require(window.next())
        guard case let .newRound(delay, _) = window.finish(send, .retry("429", retryAfterMillis: 600)) else {
            Issue.record("a 429 starts a round")
            return
        }
        #expect(delay == 600)
        let started = Date()
        let probe = try #require(Self.next(window, within: 3))
        #expect(probe.batch.firstHostSeq == 1)
        #expect(Date().timeIntervalSince(started) >= 0.5, "the probe went before Retry-After")

        let capped = DeliveryWindow(capacity: 2, backoff: Backoff(initialMillis: 1, capMillis: 100))
        #expect(capped.append(Self.batch(1)))
        let first = try #require(capped.next())
        guard case let .newRound(cappedDelay, _) = capped.finish(first, .retry("503", retryAfterMillis: 3_600_000))
        else {
            Issue.record("a 503 starts a round")
            return
        }
        #expect(cappedDelay == 100)
    }

    @Test func refusalHaltsUntilResume() throws {
        let window = Self.window(2)
        #expect(window.append(Self.batch(1)))
        let send = try #require(window.next())
        guard case .halted(first: true) = window.finish(send, .stop(status: 403, code: "HOST_REVOKED", message: "")) else {
            Issue.record("403 halts")
            return
        }
        #expect(window.resume())
        #expect(window.next()?.batch.firstHostSeq == 1)
    }

    /// 413 for the first unacknowledged batch: it and everything behind it leave the window, the
    /// new cut starts at its predecessor with half its size, and the old cut's stragglers (answers,
    /// batches still coming from the queue) change nothing.
    @Test func a413AtTheFrontStartsANewCutFromItsPredecessor() throws {
        let window = Self.window(3)
        var batches = [Self.batch(101, predecessor: 100), Self.batch(111), Self.batch(121)]
        for index in batches.indices { batches[index].bodyBytes = 1000 }
        for batch in batches { #expect(window.append(batch)) }
        let sends = (0..<3).compactMap { _ in window.next() }
        guard case let .recut(request) = window.finish(sends[0], .tooLarge("413")) else {
            Issue.record("a 413 at the front starts a new cut")
            return
        }
        #expect(request == RecutRequest(cut: 1, afterHostSeq: 100, firstHostSeq: 101, refusedBytes: 1000,
                                        refusedRecords: 10, maxBytes: 500))
        #expect(window.count == 0)
        #expect(window.currentCut == 1)
        // Answers to the old cut, even a 2xx, move nothing; its later batches are dropped.
        #expect(Self.released(window.finish(sends[1], .delivered(replay: false))) == nil)
        guard case .stale = window.finish(sends[2], .retry("503 PREDECESSOR_FAILED")) else {
            Issue.record("an answer to the old cut is stale")
            return
        }
        var late = Self.batch(131)
        late.cut = 0
        #expect(window.append(late))
        #expect(window.count == 0)
        // The new cut goes at once (a 413 is no outage), starting at the same predecessor.
        var first = Self.batch(101, 5, predecessor: 100)
        first.cut = 1
        #expect(window.append(first))
        let probe = try #require(Self.next(window, within: 1))
        #expect(probe.batch.firstHostSeq == 101 && probe.batch.cut == 1)
        #expect(Self.released(window.finish(probe, .delivered(replay: false))) == [101])
        #expect(window.testOnly_verifyInvariants())
    }

    @Test func a413BehindAnUnacknowledgedBatchWaitsForTheProbe() throws {
        let window = Self.window(3)
        for first in [1, 11] as [UInt64] { #expect(window.append(Self.batch(first))) }
        let sends = (0..<2).compactMap { _ in window.next() }
        guard case .newRound = window.finish(sends[1], .tooLarge("413")) else {
            Issue.record("a 413 behind an unanswered batch is a failure round, not a new cut")
            return
        }
        #expect(window.count == 2 && window.currentCut == 0)
    }

    /// Model of the whole 413 path: a proxy that refuses bodies over 350 bytes in front of a server
    /// that applies a batch only after its declared predecessor and fails or loses some answers;
    /// a producer that cuts 100-byte records into batches and cuts again when asked. Everything
    /// arrives, the cursor never passes the server, and no request over the limit is ever stored.
    @Test func modelBatchesRefusedAsTooLargeAreCutAgainUntilEverythingArrives() throws {
        final class Model: @unchecked Sendable {
            let lock = NSLock()
            var stored: UInt64 = 0
            var cursor: UInt64 = 0
            var violations: [String] = []
            var recut: RecutRequest?
            var generator = SystemRandomNumberGenerator()
            func post(_ batch: SealedBatch) -> ServerVerdict {
                lock.lock()
                defer { lock.unlock() }
                let roll = Int.random(in: 0..<10, using: &generator)
                if roll == 0 { return .retry("no answer") }
                if batch.bodyBytes > 350 { return .tooLarge("413") }
                if batch.predecessorHostSeq > stored { return .retry("503 PREDECESSOR_PENDING") }
                if batch.firstHostSeq > stored + 1 { violations.append("gap before \(batch.firstHostSeq)") }
                if batch.lastHostSeq > stored { stored = batch.lastHostSeq }
                return roll == 1 ? .retry("answer lost after the commit") : .delivered(replay: false)
            }
            func release(_ last: UInt64) {
                lock.lock()
                defer { lock.unlock() }
                if last > stored { violations.append("cursor \(last) passes the server's \(stored)") }
                cursor = max(cursor, last)
            }
            var acknowledged: UInt64 {
                lock.lock()
                defer { lock.unlock() }
                return cursor
            }
            func ask(_ request: RecutRequest) {
                lock.lock()
                recut = request
                lock.unlock()
            }
            func takeRecut() -> RecutRequest? {
                lock.lock()
                defer { recut = nil; lock.unlock() }
                return recut
            }
            func violation(_ text: String) {
                lock.lock()
                violations.append(text)
                lock.unlock()
            }
        }
        let model = Model()
        let window = Self.window(4)
        let total: UInt64 = 600
        let senders = (0..<4).map { _ in
            let thread = Thread {
                while let send = window.next() {
                    usleep(UInt32.random(in: 0...300))
                    switch window.finish(send, model.post(send.batch)) {
                    case let .released(batches, _, _, _): if let last = batches.last { model.release(last.lastHostSeq) }
                    case let .recut(request): model.ask(request)
                    default: break
                    }
                    if !window.testOnly_verifyInvariants() { model.violation("window invariants broken") }
                }
            }
            thread.start()
            return thread
        }
        // The producer: 100-byte records, batches of at most `maxBytes`, each declaring the last cut.
        var position: UInt64 = 0
        var maxBytes = 2_000
        var cut = 0
        let deadline = Date().addingTimeInterval(60)
        while model.acknowledged < total && Date() < deadline {
            if let request = model.takeRecut() {
                #expect(request.afterHostSeq <= position)
                (position, maxBytes, cut) = (request.afterHostSeq, request.maxBytes, request.cut)
            }
            guard position < total else {
                usleep(1_000)
                continue
            }
            let count = min(total - position, UInt64(max(1, maxBytes / 100)))
            var batch = Self.batch(position + 1, count, predecessor: position)
            batch.bodyBytes = Int(count) * 100
            batch.cut = cut
            #expect(window.append(batch))
            position += count
        }
        window.stop()
        _ = senders
        #expect(model.violations.isEmpty, "\(model.violations.prefix(3))")
        #expect(model.stored == total)
        #expect(model.cursor == total)
    }

    /// Model: a server that applies a batch only after its declared predecessor, loses some
    /// answers after committing and fails some requests before; four senders. Whatever happens,
    /// no released batch ends past what the server holds, and in the end everything is stored
    /// and released.
    @Test func modelCursorNeverLeadsTheServerAndEverythingArrives() throws {
        final class ModelServer: @unchecked Sendable {
            let lock = NSLock()
            var stored: UInt64 = 0
            var cursor: UInt64 = 0
            var violations: [String] = []
            var generator = SystemRandomNumberGenerator()
            func post(_ batch: SealedBatch) -> ServerVerdict {
                lock.lock()
                defer { lock.unlock() }
                let roll = Int.random(in: 0..<10, using: &generator)
                if roll == 0 { return .retry("no answer") }
                if batch.predecessorHostSeq > stored { return .retry("503 PREDECESSOR_PENDING") }
                if batch.lastHostSeq > stored { stored = batch.lastHostSeq }
                return roll == 1 ? .retry("answer lost after the commit") : .delivered(replay: false)
            }
            func violation(_ text: String) {
                lock.lock()
                violations.append(text)
                lock.unlock()
            }
            func release(_ last: UInt64) {
                lock.lock()
                defer { lock.unlock() }
                if last > stored { violations.append("cursor \(last) passes the server's \(stored)") }
                // Senders report releases after leaving the window's lock, so two may arrive
                // swapped; the cursor writer keeps the highest, as here.
                cursor = max(cursor, last)
            }
        }
        let server = ModelServer()
        let window = Self.window(4)
        let total: UInt64 = 200 * 10
        let senders = (0..<4).map { _ in
            let thread = Thread {
                while let send = window.next() {
                    usleep(UInt32.random(in: 0...300))
                    let verdict = server.post(send.batch)
                    if case let .released(batches, _, _, _) = window.finish(send, verdict), let last = batches.last {
                        server.release(last.lastHostSeq)
                    }
                    if !window.testOnly_verifyInvariants() { server.violation("window invariants broken") }
                }
            }
            thread.start()
            return thread
        }
        for index in 0..<200 as Range<UInt64> { #expect(window.append(Self.batch(index * 10 + 1))) }
        let deadline = Date().addingTimeInterval(30)
        while window.count > 0 && Date() < deadline { usleep(10_000) }
        window.stop()
        _ = senders
        #expect(window.count == 0)
        #expect(server.violations.isEmpty, "\(server.violations.prefix(3))")
        #expect(server.stored == total)
        #expect(server.cursor == total)
    }
}
