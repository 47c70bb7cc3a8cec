// INVARIANT (ARCHITECTURE.md 3): the cursor names a host_seq only after the
// server answered 2xx for a batch ending there. It is written atomically
// (temporary file, fsync, rename, fsync of the directory), so after a crash it
// holds an acknowledged value, perhaps an older one: the batches after it are
// sent again and the server answers them as replays.

import Foundation
import LedgerJournal
import LedgerPosix

/// The relay's cursor file, in the format ledgerd reads for retention (`RelayCursor`).
enum CursorFile {
    /// The acknowledged host_seq in the cursor at `path`; 0 when there is no cursor yet.
    /// A cursor that exists but does not parse stops the start: guessing could skip records.
    static func read(path: String) throws -> UInt64 {
        guard FileSystem.exists(path) else { return 0 }
        let bytes: [UInt8]
        do { bytes = try FileSystem.readFile(path, limit: 1 << 16) } catch {
            throw RelayError.state(path: path, reason: "cannot read the cursor: \(error)")
        }
        guard let value = RelayCursor.parse(bytes) else {
            throw RelayError.state(path: path, reason: "the cursor is damaged; move it away to resend everything "
                                   + "from the oldest journal segment (the server answers what it holds as replays)")
        }
        return value
    }

    /// Group-readable so that ledgerd, running as another user in the relay's group, can read it.
    static let permissions: UInt32 = 0o640

    static func write(ackedHostSeq: UInt64, hostID: String, path: String) throws {
        do {
            try FileSystem.writeAtomically(RelayCursor.encode(ackedHostSeq: ackedHostSeq, hostID: hostID),
                                           to: path, permissions: permissions)
        } catch {
            throw RelayError.state(path: path, reason: "cannot write the cursor: \(error)")
        }
    }
}

/// Writes the cursor on its own thread, so the fsyncs overlap the next upload. Values only
/// ever come from 2xx answers; when several arrive during one write, the newest wins (an
/// older one would only cause more replays after a crash).
final class CursorWriter: @unchecked Sendable {
    // @unchecked: `pending`, `written`, `failure` and `closed` are only touched under `condition`.
    private let condition = NSCondition()
    private var pending: UInt64?
    private var written: UInt64
    private var failure: Error?
    private var closed = false
    private var thread: Thread?
    let path: String
    let hostID: String
    let log: Logger

    init(path: String, hostID: String, initial: UInt64, log: Logger) {
        self.path = path
        self.hostID = hostID
        self.written = initial
        self.log = log
    }

    func start() {
        let thread = Thread { [self] in loop() }
        thread.name = "relay-cursor"
        self.thread = thread
        thread.start()
    }

    /// Called after a 2xx for a batch ending at `hostSeq`.
    func acknowledge(_ hostSeq: UInt64) {
        condition.lock()
        if hostSeq > (pending ?? written) { pending = hostSeq }
        condition.broadcast()
        condition.unlock()
    }

    /// The value the cursor file holds now.
    var durableValue: UInt64 {
        condition.lock()
        defer { condition.unlock() }
        return written
    }

    /// The last write error, if the state directory became unwritable.
    var lastFailure: Error? {
        condition.lock()
        defer { condition.unlock() }
        return failure
    }

    /// Writes what is pending, then stops the thread.
    func finish() {
        condition.lock()
        closed = true
        condition.broadcast()
        while pending != nil && failure == nil { condition.wait() }
        condition.unlock()
    }

    private func loop() {
        condition.lock()
        while true {
            while pending == nil && !closed { condition.wait() }
            guard let value = pending else { break }
            condition.unlock()
            var error: Error?
            do { try CursorFile.write(ackedHostSeq: value, hostID: hostID, path: path) } catch let e { error = e }
            condition.lock()
            if let error {
                // Keep the value pending and try again: the cursor only lags, nothing is lost.
                if failure == nil { log.error("cannot write the cursor; retrying", ["error": "\(error)"]) }
                failure = error
                if closed { break }
                _ = condition.wait(until: Date(timeIntervalSinceNow: 1))
                continue
            }
            failure = nil
            written = value
            if pending == value { pending = nil }
            condition.broadcast()
        }
        condition.broadcast()
        condition.unlock()
    }
}
