// INVARIANT (ARCHITECTURE.md 3 and 4): one batch is in flight at a time and the
// next is sent only after the server acknowledged this one, so the server sees
// the host's stream in host_seq order; the cursor moves only on a 2xx, to the
// last host_seq of the acknowledged batch. A batch is never skipped: it is sent
// again, unchanged, until the server takes it or the relay is told to stop.

import Foundation
import LedgerCore
import LedgerPosix

/// Sends sealed batches in order and advances the cursor on each 2xx.
final class Uploader: @unchecked Sendable {
    // @unchecked: `resumed`, `stopping` and `waitingOn` are only touched under `condition`;
    // everything else is used by the uploader thread alone.
    private let client: HTTPClient
    private let url: String
    private let hostID: String
    private let queue: BatchQueue
    private let cursor: CursorWriter
    private let board: StatusBoard
    private let log: Logger
    private var backoff: Backoff
    private let condition = NSCondition()
    private var resumed = false
    private var stopping = false
    /// The ticket whose sealing the uploader waits for, so `stop()` can cut the wait short.
    private var waitingOn: SealTicket?

    init(client: HTTPClient, configuration: RelayConfiguration, hostID: String, queue: BatchQueue,
         cursor: CursorWriter, board: StatusBoard, log: Logger) {
        self.client = client
        self.url = configuration.baseURL + BatchMessage.batchPath
        self.hostID = hostID
        self.queue = queue
        self.cursor = cursor
        self.board = board
        self.log = log
        backoff = Backoff(initialMillis: configuration.backoffInitialMillis, capMillis: configuration.backoffMaxMillis)
    }

    /// Runs until `stop()` (or the queue closes).
    func run() {
        while let ticket = queue.pop() {
            guard let batch = sealed(ticket), deliver(batch) else { return }
        }
    }

    /// Waits for the seal pool to finish `ticket`; nil when the relay is stopping.
    private func sealed(_ ticket: SealTicket) -> SealedBatch? {
        condition.lock()
        guard !stopping else {
            condition.unlock()
            return nil
        }
        waitingOn = ticket
        condition.unlock()
        let batch = ticket.wait()
        condition.lock()
        waitingOn = nil
        condition.unlock()
        return batch
    }

    /// Wakes a backoff sleep or a stopped relay and makes `run` return.
    func stop() {
        condition.lock()
        stopping = true
        let ticket = waitingOn
        condition.broadcast()
        condition.unlock()
        ticket?.cancel()
    }

    /// SIGHUP: a stopped relay tries the refused batch again (after the operator fixed the cause).
    func resume() {
        condition.lock()
        resumed = true
        condition.broadcast()
        condition.unlock()
    }

    /// Sends `batch` until the server takes it; false when the relay is stopping.
    private func deliver(_ batch: SealedBatch) -> Bool {
        let headers = [
            "Content-Type: \(RelayBatch.contentType)",
            "Content-Encoding: \(RelayBatch.contentEncoding)",
            "\(RelayBatch.hostHeader): \(hostID)",
            "\(RelayBatch.batchSeqHeader): \(batch.firstHostSeq)",
            "\(RelayBatch.bodySHA256Header): \(batch.bodySHA256)",
            "\(RelayBatch.signatureHeader): \(batch.signature)",
        ]
        while !isStopping {
            let outcome = batch.compressed.withUnsafeBytes { client.post(url: url, headers: headers, body: $0) }
            switch ServerVerdict.classify(outcome, lastHostSeq: batch.lastHostSeq) {
            case let .delivered(replay):
                cursor.acknowledge(batch.lastHostSeq)
                let wasFailing = backoff.failures > 0
                backoff.reset()
                board.update(important: wasFailing) {
                    $0.state = .forwarding
                    $0.reason = nil
                    $0.ackedHostSeq = batch.lastHostSeq
                    $0.batchesSent += 1
                    $0.recordsSent += UInt64(batch.count)
                    $0.bytesUncompressed += UInt64(batch.bodyBytes)
                    $0.bytesOnWire += UInt64(batch.compressed.count)
                    if replay { $0.replayedBatches += 1 }
                    $0.lastSuccessAtMicros = SystemClock.nowMicroseconds()
                }
                if wasFailing { log.info("the server takes batches again", ["batch_seq": batch.firstHostSeq]) }
                if replay {
                    log.info("the server already held this batch (a resend after a restart or a lost answer)", [
                        "batch_seq": batch.firstHostSeq, "last_host_seq": batch.lastHostSeq])
                }
                return true
            case let .retry(message):
                fail(.backingOff, message, batch)
            case let .rejected(message):
                fail(.rejected, message, batch)
            case let .stop(status, code, message):
                let reason = "\(status) \(code): \(message)"
                board.failure(.stopped, reason)
                log.error("forwarding stopped: the server refused the relay; the journal and cursor are kept. "
                          + "Fix the cause, then restart ledger-relay or send it SIGHUP", [
                            "status": status, "code": code, "message": message, "batch_seq": batch.firstHostSeq,
                            "acked_host_seq": cursor.durableValue])
                guard waitForResume() else { return false }
                log.info("resuming after SIGHUP", ["batch_seq": batch.firstHostSeq])
                backoff.reset()
            }
        }
        return false
    }

    /// Logs the failure (every one at first, then every tenth), then sleeps the backoff delay.
    private func fail(_ state: RelayState, _ message: String, _ batch: SealedBatch) {
        let delay = backoff.nextDelayMillis()
        board.failure(state, message)
        let failures = backoff.failures
        if failures <= 3 || failures % 10 == 0 {
            let fields: KeyValuePairs<String, Any> = [
                "error": message, "batch_seq": batch.firstHostSeq, "attempt": failures, "retry_in_ms": delay]
            if state == .rejected {
                log.error("the server rejected a batch; retrying (nothing is skipped)", fields)
            } else {
                log.warn("batch not delivered; retrying", fields)
            }
        }
        condition.lock()
        let until = Date(timeIntervalSinceNow: Double(delay) / 1000)
        while !stopping && Date() < until { _ = condition.wait(until: until) }
        condition.unlock()
    }

    private var isStopping: Bool {
        condition.lock()
        defer { condition.unlock() }
        return stopping
    }

    /// Waits for SIGHUP (true) or shutdown (false).
    private func waitForResume() -> Bool {
        condition.lock()
        defer { condition.unlock() }
        resumed = false
        while !resumed && !stopping { condition.wait() }
        return !stopping
    }
}
