import Foundation
import LedgerPosix

/// Threads that compress, hash and sign cut batches (`SealTicket`s), oldest first.
///
/// Why a pool: zlib is most of the relay's CPU (91 % of its samples at level 6 while
/// draining a backlog, docs/RELAY.md "Where the time goes"), and one reader thread doing
/// it in line capped the relay at one core. Order does not matter here: the tickets were
/// queued for upload in order before they were submitted.
final class SealPool: @unchecked Sendable {
    // @unchecked: `jobs` and `stopping` are only touched under `condition`; each sealer
    // belongs to one thread.
    private let condition = NSCondition()
    /// Tickets not taken by a seal thread yet, oldest first. A taken ticket leaves at once:
    /// kept here it would keep its sealed body alive after the upload, and while sealing is
    /// the bottleneck the array never empties, so memory grew by one batch per batch. The
    /// upload queue bounds it (--prepared-batches), so removing from the front costs nothing.
    private var jobs: [SealTicket] = []
    private var stopping = false
    private let sealers: [BatchSealer]
    private let log: Logger

    /// One sealer per thread: a sealer's SHA-256 context is not shareable.
    init(sealers: [BatchSealer], log: Logger) {
        precondition(!sealers.isEmpty)
        self.sealers = sealers
        self.log = log
    }

    func start() {
        for (index, sealer) in sealers.enumerated() {
            let thread = Thread { [self] in work(sealer) }
            thread.name = "relay-seal-\(index)"
            thread.start()
        }
    }

    /// Queues a ticket for sealing (it is already in the upload queue).
    func submit(_ ticket: SealTicket) {
        condition.lock()
        jobs.append(ticket)
        condition.signal()
        condition.unlock()
    }

    /// Makes the threads return; tickets not sealed yet are left to the caller to cancel.
    func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        condition.unlock()
    }

    private var isStopping: Bool {
        condition.lock()
        defer { condition.unlock() }
        return stopping
    }

    /// The oldest unsealed ticket (the uploader waits for that one first); nil when stopping.
    private func next() -> SealTicket? {
        condition.lock()
        defer { condition.unlock() }
        while jobs.isEmpty && !stopping { condition.wait() }
        guard !stopping else { return nil }
        return jobs.removeFirst()
    }

    private func work(_ sealer: BatchSealer) {
        while let ticket = next() {
            guard let batch = ticket.takeForSealing() else { continue }
            // INVARIANT: a cut batch is sealed or the relay stops; dropping it would leave a
            // hole the server records as lost records. Sealing fails only for want of memory.
            var delayMillis = 100
            while true {
                do {
                    ticket.fulfil(try sealer.seal(batch))
                    break
                } catch {
                    if isStopping { return }
                    log.error("cannot compress or sign a batch; retrying", [
                        "error": "\(error)", "batch_seq": batch.firstHostSeq, "retry_in_ms": delayMillis])
                    Thread.sleep(forTimeInterval: Double(delayMillis) / 1000)
                    delayMillis = min(delayMillis * 2, 5_000)
                }
            }
        }
    }
}
