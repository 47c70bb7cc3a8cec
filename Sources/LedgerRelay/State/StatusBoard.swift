import Foundation
internal import Glibc
import LedgerJournal
import LedgerPosix

/// The relay's live status, shared by its threads, and the progress meter behind the
/// "records behind, rate, estimated time" log lines. Thread-safe.
final class StatusBoard: @unchecked Sendable {
    // @unchecked: `status`, `dirty` and the meter fields are only touched under `lock`.
    private let lock = Lock()
    /// Held around each write of the file. Sender threads and the main thread all write it:
    /// unserialised, two writers shared the one temporary file (a reader could find it cut
    /// short, a rename failed for want of it) and an older snapshot could land last.
    private let writeLock = Lock()
    private var status = RelayStatus()
    private var dirty = true
    private var meterAcked: UInt64 = 0
    private var meterNanos: UInt64 = 0
    let path: String
    let journal: JournalPaths
    let log: Logger

    init(path: String, journal: JournalPaths, server: String, log: Logger) {
        self.path = path
        self.journal = journal
        self.log = log
        status.server = server
        status.pid = getpid()
    }

    /// Changes the status under the lock; `important` writes the file at once (state changes).
    func update(important: Bool = false, _ change: (inout RelayStatus) -> Void) {
        lock.withLock {
            change(&status)
            dirty = true
        }
        if important { flush() }
    }

    var snapshot: RelayStatus { lock.withLock { status } }

    /// Records a failed attempt and the state it leaves the relay in.
    func failure(_ state: RelayState, _ message: String) {
        update(important: true) {
            $0.state = state
            $0.reason = state == .forwarding ? nil : message
            $0.lastError = message
            $0.lastErrorAtMicros = SystemClock.nowMicroseconds()
            $0.failedAttempts += 1
        }
    }

    /// Writes the status file when something changed since the last write.
    func flush() {
        writeLock.withLock {
            // Read and snapshot under the write lock too, so writes land in the order of their snapshots.
            let durable = (try? DurableCheckpoint.read(journalDirectory: journal.journal)) ?? nil
            let document: RelayStatus? = lock.withLock {
                if let durable, durable != status.durableHostSeq {
                    status.durableHostSeq = durable
                    dirty = true
                }
                guard dirty else { return nil }
                dirty = false
                status.updatedAtMicros = SystemClock.nowMicroseconds()
                return status
            }
            guard let document else { return }
            do { try document.write(to: path) } catch {
                log.warn("cannot write the status file", ["path": path, "error": "\(error)"])
            }
        }
    }

    /// Updates the rate and ETA from the acknowledgements since the last call, writes the
    /// file, and logs progress while the relay is behind.
    func tick() {
        let now = SystemClock.monotonicNanoseconds()
        lock.withLock {
            if meterNanos != 0, now > meterNanos {
                let seconds = Double(now - meterNanos) / 1e9
                let acked = status.ackedHostSeq >= meterAcked ? status.ackedHostSeq - meterAcked : 0
                status.recordsPerSecond = Double(acked) / seconds
            }
            meterNanos = now
            meterAcked = status.ackedHostSeq
            dirty = true
        }
        flush()
        let current = snapshot
        let behind = current.recordsBehind
        let eta: Double? = behind > 0 && current.recordsPerSecond > 0 ? Double(behind) / current.recordsPerSecond : nil
        update { $0.etaSeconds = eta }
        if behind > 0 {
            log.info("forwarding backlog", [
                "state": current.state.rawValue, "records_behind": behind,
                "records_per_second": Int(current.recordsPerSecond),
                "eta_seconds": eta.map { String(Int($0.rounded())) } ?? "unknown",
                "acked_host_seq": current.ackedHostSeq, "durable_host_seq": current.durableHostSeq])
        }
    }
}
