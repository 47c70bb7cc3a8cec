// INVARIANT (ARCHITECTURE.md 3 and 4): batches enter the DeliveryWindow in host_seq
// order; up to --in-flight of them are sent at once, each declaring its predecessor so
// the server applies them in order; the cursor moves only over a contiguous prefix of
// 2xx answers, to the last host_seq of the newest batch in it. A batch is never skipped:
// it is sent again, unchanged, until the server takes it or the relay is told to stop.

import Foundation
import LedgerCore
import LedgerPosix

/// Feeds sealed batches into the delivery window in order and runs one sender thread per
/// connection; advances the cursor as the window releases acknowledged batches.
final class Uploader: @unchecked Sendable {
    // @unchecked: `stopping` and `waitingOn` are only touched under `condition`; the window,
    // cursor and board are thread-safe; each sender thread owns its HTTPClient.
    private let clients: [HTTPClient]
    private let url: String
    private let hostID: String
    private let queue: BatchQueue
    private let window: DeliveryWindow
    private let cursor: CursorWriter
    private let board: StatusBoard
    private let log: Logger
    /// Hands a new cut (after a 413) to the producer thread.
    private let requestRecut: (RecutRequest) -> Void
    private let condition = NSCondition()
    private var stopping = false
    /// The ticket whose sealing the feeder waits for, so `stop()` can cut the wait short.
    private var waitingOn: SealTicket?

    /// `clients`: one per batch in flight (the window's capacity), each its own connection.
    init(clients: [HTTPClient], configuration: RelayConfiguration, hostID: String, queue: BatchQueue,
         cursor: CursorWriter, board: StatusBoard, log: Logger, requestRecut: @escaping (RecutRequest) -> Void) {
        precondition(!clients.isEmpty)
        self.requestRecut = requestRecut
        self.clients = clients
        self.url = configuration.baseURL + BatchMessage.batchPath
        self.hostID = hostID
        self.queue = queue
        self.cursor = cursor
        self.board = board
        self.log = log
        window = DeliveryWindow(capacity: clients.count,
                                backoff: Backoff(initialMillis: configuration.backoffInitialMillis,
                                                 capMillis: configuration.backoffMaxMillis))
    }

    /// Runs until `stop()` (or the queue closes). The senders may still be finishing a request
    /// when it returns; their answers no longer matter (the batches are resent on the next start).
    func run() {
        for (index, client) in clients.enumerated() {
            let thread = Thread { [self] in send(with: client) }
            thread.name = "relay-send-\(index)"
            thread.start()
        }
        while let ticket = queue.pop() {
            // A batch of a cut given up after a 413: the window would drop it; spare the sealing.
            if ticket.cut < window.currentCut {
                ticket.cancel()
                continue
            }
            guard let batch = sealed(ticket) else {
                if isStopping { break }
                continue  // dropped by the producer with its cut
            }
            guard window.append(batch) else { break }
        }
        window.stop()
    }

    private var isStopping: Bool {
        condition.lock()
        defer { condition.unlock() }
        return stopping
    }

    /// Waits for the seal pool to finish `ticket`; nil when the relay is stopping or the ticket
    /// was dropped.
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

    /// Wakes every wait (sealing, room in the window, backoff, a halt) and makes `run` return.
    func stop() {
        condition.lock()
        stopping = true
        let ticket = waitingOn
        condition.unlock()
        ticket?.cancel()
        window.stop()
    }

    /// SIGHUP: a stopped relay tries the refused batch again (after the operator fixed the cause).
    func resume() {
        if window.resume() { log.info("resuming after SIGHUP", ["acked_host_seq": cursor.durableValue]) }
    }

    /// One sender thread: takes the next batch the window allows, posts it, reports the answer.
    private func send(with client: HTTPClient) {
        while let send = window.next() {
            let batch = send.batch
            let headers = [
                "Content-Type: \(RelayBatch.contentType)",
                "Content-Encoding: \(RelayBatch.contentEncoding)",
                "\(RelayBatch.hostHeader): \(hostID)",
                "\(RelayBatch.batchSeqHeader): \(batch.firstHostSeq)",
                "\(RelayBatch.predecessorHeader): \(batch.predecessorHostSeq)",
                "\(RelayBatch.bodySHA256Header): \(batch.bodySHA256)",
                "\(RelayBatch.signatureHeader): \(batch.signature)",
            ]
            let outcome = batch.compressed.withUnsafeBytes { client.post(url: url, headers: headers, body: $0) }
            let verdict = ServerVerdict.classify(outcome, lastHostSeq: batch.lastHostSeq,
                                                 firstHostSeq: batch.firstHostSeq, hostID: hostID,
                                                 wireBytes: batch.compressed.count)
            settle(window.finish(send, verdict), verdict, batch)
        }
    }

    private func settle(_ settlement: DeliveryWindow.Settlement, _ verdict: ServerVerdict, _ batch: SealedBatch) {
        switch settlement {
        case let .released(batches, replays, recovered, healthy):
            guard let last = batches.last else { return }
            // The window releases prefixes in order; the cursor keeps the highest value anyway.
            cursor.acknowledge(last.lastHostSeq)
            board.update(important: recovered) {
                if healthy {
                    $0.state = .forwarding
                    $0.reason = nil
                }
                $0.ackedHostSeq = max($0.ackedHostSeq, last.lastHostSeq)
                $0.batchesSent += UInt64(batches.count)
                for released in batches {
                    $0.recordsSent += UInt64(released.count)
                    $0.bytesUncompressed += UInt64(released.bodyBytes)
                    $0.bytesOnWire += UInt64(released.compressed.count)
                }
                $0.replayedBatches += UInt64(replays)
                $0.lastSuccessAtMicros = SystemClock.nowMicroseconds()
            }
            if recovered { log.info("the server takes batches again", ["batch_seq": batches[0].firstHostSeq]) }
            if replays > 0 {
                log.info("the server already held this batch (a resend after a restart or a lost answer)", [
                    "batch_seq": batches[0].firstHostSeq, "last_host_seq": last.lastHostSeq, "batches": replays])
            }
        case let .newRound(delay, failures):
            let (state, message): (RelayState, String) = switch verdict {
            case let .rejected(message), let .tooLarge(message): (.rejected, message)
            case let .retry(message, _): (.backingOff, message)
            default: (.backingOff, "\(verdict)")
            }
            board.failure(state, message)
            // Every failure at first, then every tenth.
            if failures <= 3 || failures % 10 == 0 {
                let fields: KeyValuePairs<String, Any> = [
                    "error": message, "batch_seq": batch.firstHostSeq, "attempt": failures, "retry_in_ms": delay]
                if state == .rejected {
                    log.error("the server rejected a batch; retrying it and its successors in order "
                              + "(nothing is skipped)", fields)
                } else {
                    log.warn("batch not delivered; retrying it and its successors in order", fields)
                }
            }
        case .absorbed, .stale:
            break
        case let .recut(request):
            let reason: String = if case let .tooLarge(message) = verdict { message } else { "\(verdict)" }
            board.failure(.rejected, "\(reason): cutting smaller batches (at most \(request.maxBytes) bytes) from "
                          + "host_seq \(request.firstHostSeq); lower --batch-bytes or raise the server's or proxy's limit")
            log.warn("the server or a proxy refused a batch as too large (413); cutting the journal again from "
                     + "that batch in batches of half its size, until restart (nothing is skipped)", [
                        "error": reason, "batch_seq": request.firstHostSeq, "records": request.refusedRecords,
                        "batch_bytes": request.refusedBytes, "new_batch_bytes": request.maxBytes])
            requestRecut(request)
        case let .halted(first):
            guard first else { return }
            let (status, code, message) = switch verdict {
            case let .stop(status, code, message): (status, code, message)
            case let .tooLarge(message): (413, "RECORD_TOO_LARGE", message)
            default: (0, "STOPPED", "\(verdict)")
            }
            board.failure(.stopped, "\(status) \(code): \(message)")
            log.error("forwarding stopped: the server refused the relay, or its answer cannot be trusted; the "
                      + "journal and cursor are kept. Fix the cause (see message), then restart ledger-relay or "
                      + "send it SIGHUP", [
                        "status": status, "code": code, "message": message, "batch_seq": batch.firstHostSeq,
                        "acked_host_seq": cursor.durableValue])
        }
    }
}
