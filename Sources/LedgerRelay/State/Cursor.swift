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
    /// The cursor at `path`; nil when there is none yet. A cursor that exists but does not
    /// parse stops the start: guessing could skip records.
    static func read(path: String) throws -> RelayCursor? {
        guard FileSystem.exists(path) else { return nil }
        let bytes: [UInt8]
        do { bytes = try FileSystem.readFile(path, limit: 1 << 16) } catch {
            throw RelayError.state(path: path, reason: "cannot read the cursor: \(error)")
        }
        guard let cursor = RelayCursor.parse(bytes) else {
            throw RelayError.state(path: path, reason: "the cursor is damaged; move it away to resend everything "
                                   + "from the oldest journal segment (the server answers what it holds as replays)")
        }
        return cursor
    }

    /// Refuses a cursor that was not written for the journal of `hostID`: one of another host_id,
    /// one without a host_id, or one past everything the journal holds. Forwarding from such a
    /// cursor would skip this journal's host_seq 1…acked for good, and ledgerd's retention would
    /// delete them as forwarded; for a new host_id the first batch would also declare a
    /// predecessor the server never saw, which it holds back forever (503).
    static func check(_ cursor: RelayCursor, path: String, hostID: String, journal: JournalPaths) throws {
        let moveAway = "check what the server holds (`ledger-server hosts list`), then move the cursor away "
            + "(mv \(path) \(path).old) and start ledger-relay again: it then forwards this journal from its "
            + "first record (docs/OPERATIONS.md, \"relay refuses to start\")"
        guard let cursorHost = cursor.hostID else {
            throw RelayError.cursor(path: path, reason: "it names no host_id (every ledger-relay writes one, so it "
                                    + "was written by hand or by another program); acked_host_seq "
                                    + "\(cursor.ackedHostSeq), this journal is host \"\(hostID)\". If it is this "
                                    + "journal's position, add \"host_id\":\"\(hostID)\" to it; otherwise \(moveAway)")
        }
        guard cursor.belongs(to: hostID) else {
            throw RelayError.cursor(path: path, reason: "it belongs to host \"\(cursorHost)\" (acked_host_seq "
                                    + "\(cursor.ackedHostSeq)), but the journal in \(journal.dataDirectory) is host "
                                    + "\"\(hostID)\"'s (reinstalled, new --host-id, or a cloned machine?). If "
                                    + "--data-dir names the wrong journal, fix it; otherwise \(moveAway)")
        }
        let end = try journalEnd(journal, beyond: cursor.ackedHostSeq)
        guard cursor.ackedHostSeq <= end else {
            throw RelayError.cursor(path: path, reason: "it says the server acknowledged host_seq "
                                    + "\(cursor.ackedHostSeq) of host \"\(hostID)\", but the journal in "
                                    + "\(journal.dataDirectory) ends at host_seq \(end): the journal was recreated "
                                    + "(wiped data directory, reinstall, older backup) after the cursor was written. "
                                    + "If the server holds that earlier journal's records, this journal needs a new "
                                    + "host id (a second history under one host id is a fork); otherwise \(moveAway)")
        }
    }

    /// The highest host_seq the journal holds or has handed out: the durable checkpoint, the
    /// newest segment's name, or its last frame on disk, whichever is highest. The frames count
    /// because the checkpoint is not fsynced: after a power failure it may name less than the
    /// relay already forwarded, until ledgerd's recovery rewrites it. The newest segment is
    /// read only when the cheaper two stay below `position`.
    static func journalEnd(_ journal: JournalPaths, beyond position: UInt64) throws -> UInt64 {
        // A checkpoint caught mid-rewrite reads as damaged; the frames below still count.
        var end = ((try? DurableCheckpoint.read(journalDirectory: journal.journal)) ?? nil) ?? 0
        guard let newest = try SegmentFile.list(in: journal.journal).last else { return end }
        end = max(end, newest.firstHostSeq - 1)
        guard end < position else { return end }
        let scanner = try SegmentScanner(path: newest.path)
        guard case .success = scanner.header else { return end }
        while let frame = try scanner.next({ hostSeq, _ in end = max(end, hostSeq) }), case .valid = frame.validation {}
        return end
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
    /// Runs once on the cursor thread after the first value was written, i.e. after the first
    /// batch the server answered 2xx. Set before `start()`.
    var afterFirstWrite: (() -> Void)?

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
            if let once = afterFirstWrite {
                afterFirstWrite = nil
                condition.unlock()
                once()
                condition.lock()
            }
        }
        condition.broadcast()
        condition.unlock()
    }
}
