// LedgerRelay: forwards a host's durable journal to ledger-server.
//
//   JournalWatcher (inotify) ─▶ Producer thread: JournalReader → Batcher ─┬─▶ SealPool threads: BatchSealer
//                                   │ BatchQueue of SealTickets, in order     │   (zlib, SHA-256, Ed25519)
//                               Uploader thread: waits for the next ticket ◀─┘
//                                   │ DeliveryWindow (--in-flight batches, host_seq order)
//                               sender threads, one keep-alive connection each → 2xx
//                                   │ contiguous prefix of 2xx answers
//                               CursorWriter thread: write, fsync, rename (ledgerd reads it)
//
// Invariants enforced here (ARCHITECTURE.md 2, 3, 4): only durable records are
// read (JournalReader stops at the checkpoint), batches are contiguous ranges
// sent in order, and the cursor moves only after a 2xx. docs/RELAY.md has the
// whole design.

import Foundation
import LedgerCore
import LedgerJournal
import LedgerPosix

/// ledger-relay. `run()` blocks until `stop()`.
public final class Relay: @unchecked Sendable {
    // @unchecked: `stopping` and `components` are guarded by `condition`.
    public let configuration: RelayConfiguration
    let log: Logger
    private let condition = NSCondition()
    private var stopping = false
    private var producer: Producer?
    private var uploader: Uploader?

    public init(configuration: RelayConfiguration, log: Logger = Logger(component: "ledger-relay")) {
        self.configuration = configuration
        self.log = log
    }

    /// Parses flags, environment and config file, and runs until SIGTERM/SIGINT. Returns the exit status.
    public static func main(_ arguments: [String]) -> Int32 {
        // Before any thread exists, so every thread inherits the blocked mask.
        SignalWaiter.blockInCurrentThread()
        SignalWaiter.ignoreBrokenPipe()
        let log = Logger(component: "ledger-relay")
        let configuration: RelayConfiguration
        do {
            let parsed = try RelayConfiguration.spec.parse(arguments)
            if parsed.helpRequested {
                try? FileDescriptor.standardOutput.write(Array(RelayConfiguration.spec.helpText().utf8))
                return 0
            }
            configuration = try RelayConfiguration(parsed)
        } catch {
            log.error("bad configuration", ["error": "\(error)"])
            return 2
        }
        let relay = Relay(configuration: configuration, log: log)
        do {
            let signals = try SignalWaiter([.terminate, .interrupt, .hangup]) { signal in
                if signal == .hangup { relay.resume() } else { relay.stop() }
            }
            defer { signals.stop() }
            try relay.run()
            return 0
        } catch {
            log.error("ledger-relay stopped", ["error": "\(error)"])
            return (error as? RelayError)?.needsOperator == true ? Self.exitNeedsOperator : 1
        }
    }

    /// Exit status for a refusal that no restart can cure (a cursor of another journal, a key
    /// file with loose permissions): 78, EX_CONFIG of sysexits.h. The systemd unit names it in
    /// RestartPreventExitStatus, so the relay does not start, refuse and log every 5 s.
    public static let exitNeedsOperator: Int32 = 78

    /// Asks `run()` to return: the batch in flight is abandoned (it is resent on the next
    /// start, and the server answers it as a replay if it had stored it).
    public func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        let (producer, uploader) = (self.producer, self.uploader)
        condition.unlock()
        producer?.stop()
        uploader?.stop()
    }

    /// SIGHUP: a relay stopped by a refusal tries again.
    public func resume() {
        condition.lock()
        let uploader = self.uploader
        condition.unlock()
        uploader?.resume()
    }

    private var isStopping: Bool {
        condition.lock()
        defer { condition.unlock() }
        return stopping
    }

    public func run() throws {
        let c = configuration
        let paths = JournalPaths(dataDirectory: c.dataDirectory)
        do { try FileSystem.createDirectory(c.stateDirectory, permissions: 0o750) } catch {
            throw RelayError.state(path: c.stateDirectory, reason: "\(error)")
        }
        FileSystem.removeStaleTemporaries(of: [c.cursorPath, c.enrolledMarkerPath], log: log)
        let key: Ed25519PrivateKey
        do { key = try KeyFile.readPrivateKey(at: c.keyPath) } catch {
            throw RelayError.key(path: c.keyPath, reason: "\(error)")
        }
        let savedCursor = try CursorFile.read(path: c.cursorPath)
        let acked = savedCursor?.ackedHostSeq ?? 0
        let board = StatusBoard(path: c.statusPath, journal: paths, server: c.serverURL, log: log)
        board.update(important: true) {
            $0.state = .starting
            $0.ackedHostSeq = acked
        }
        let watcher = try JournalWatcher(journalDirectory: paths.journal, dataDirectory: paths.dataDirectory)
        guard let hostID = try waitForHostID(paths, watcher, board) else { return }
        guard RelayBatch.isValidHostID(hostID) else {
            throw RelayError.journal("host_id \"\(hostID)\" cannot go in a batch header (1-256 printable ASCII, "
                                     + "no spaces)")
        }
        board.update { $0.hostID = hostID }
        if let savedCursor {
            do { try CursorFile.check(savedCursor, path: c.cursorPath, hostID: hostID, journal: paths) } catch {
                board.failure(.stopped, "\(error)")
                throw error
            }
        }
        let clients = try (0..<c.inFlight).map { _ in
            try HTTPClient(connectTimeoutMillis: c.connectTimeoutMillis,
                           requestTimeoutMillis: c.requestTimeoutMillis, caFile: c.caFile)
        }
        let enrollment = try Enrollment.enrollIfNeeded(token: c.enrollToken, key: key, hostID: hostID,
                                                       configuration: c, client: clients[0], board: board, log: log,
                                                       shouldStop: { isStopping })
        if isStopping { return }

        let durable = (try? DurableCheckpoint.read(journalDirectory: paths.journal)) ?? nil
        log.info("forwarding", ["host_id": hostID, "server": c.serverURL, "from_host_seq": acked + 1,
                                "durable_host_seq": durable ?? 0, "batch_records": c.batchRecords,
                                "backlog_batch_records": c.backlogBatchRecords, "batch_bytes": c.batchBytes,
                                "linger_ms": c.lingerMillis, "compression_level": c.compressionLevel,
                                "seal_threads": c.sealThreads, "in_flight": c.inFlight])

        let queue = BatchQueue(capacity: c.preparedBatches)
        let cursor = CursorWriter(path: c.cursorPath, hostID: hostID, initial: acked, log: log)
        if case .unconfirmed = enrollment {
            cursor.afterFirstWrite = { [log] in
                Enrollment.confirm(hostID: hostID, key: key, configuration: c, board: board, log: log)
            }
        }
        let reader = JournalReader(dataDirectory: c.dataDirectory)
        reader.onStallChange = { [log] stall in Self.report(stall, log: log, board: board) }
        let batcher = Batcher(reader: reader, after: acked,
                              maxRecords: c.batchRecords, backlogMaxRecords: c.backlogBatchRecords,
                              maxBytes: c.batchBytes, log: log)
        let pool = SealPool(sealers: (0..<c.sealThreads).map { _ in
            BatchSealer(key: key, hostID: hostID, level: c.compressionLevel)
        }, log: log)
        let producer = Producer(batcher: batcher, pool: pool, watcher: watcher, queue: queue, board: board,
                                lingerMillis: c.lingerMillis, log: log)
        let uploader = Uploader(clients: clients, configuration: c, hostID: hostID, queue: queue, cursor: cursor,
                                board: board, log: log, requestRecut: producer.requestRecut)
        condition.lock()
        self.producer = producer
        self.uploader = uploader
        let stopEarly = stopping
        condition.unlock()
        if stopEarly { return }
        board.update(important: true) { $0.state = .forwarding; $0.reason = nil }

        cursor.start()
        pool.start()
        let producerThread = Thread { producer.run() }
        producerThread.name = "relay-reader"
        producerThread.start()
        let uploaderDone = DispatchSemaphore(value: 0)
        let uploaderThread = Thread {
            uploader.run()
            uploaderDone.signal()
        }
        uploaderThread.name = "relay-upload"
        uploaderThread.start()

        // The main thread keeps the status file fresh and logs progress until stopped.
        let interval = Double(c.progressIntervalMillis) / 1000
        var nextTick = Date(timeIntervalSinceNow: interval)
        condition.lock()
        while !stopping {
            _ = condition.wait(until: min(nextTick, Date(timeIntervalSinceNow: 1)))
            if stopping { break }
            condition.unlock()
            if Date() >= nextTick {
                board.tick()
                nextTick = Date(timeIntervalSinceNow: interval)
            } else {
                board.flush()
            }
            condition.lock()
        }
        condition.unlock()

        log.info("stopping")
        producer.stop()
        queue.close()
        pool.stop()
        uploader.stop()
        // An upload in flight may take up to the request timeout; its answer is not needed
        // (the batch is resent on the next start), so wait only briefly.
        _ = uploaderDone.wait(timeout: .now() + .seconds(2))
        cursor.finish()
        board.update(important: true) { $0.ackedHostSeq = cursor.durableValue }
    }

    /// A stall is otherwise silent: the relay keeps running, caught up as far as it can read,
    /// while the records from the unreadable one on wait (and are skipped, as a host_gap on the
    /// server, once ledgerd starts a new segment).
    private static func report(_ stall: JournalReader.Stall?, log: Logger, board: StatusBoard) {
        guard let stall else {
            log.warn("reading the journal moves on past the unreadable record; the records after it in its "
                     + "segment are not forwarded (the server records a host_gap)")
            board.update(important: true) { $0.journalStall = nil }
            return
        }
        log.error("a durable journal record cannot be read: forwarding stops before it until ledgerd starts a new "
                  + "segment, which skips the rest of this one. Check the disk (dmesg); ledgerd's next start "
                  + "quarantines or truncates the segment (docs/JOURNAL.md, \"Recovery on start\")", [
                    "segment": stall.segment, "offset": stall.offset, "host_seq": stall.hostSeq,
                    "durable_host_seq": stall.durableHostSeq, "found": stall.found])
        board.update(important: true) {
            $0.journalStall = "host_seq \(stall.hostSeq) unreadable in \(stall.segment) at offset \(stall.offset): "
                + "\(stall.found); records after it wait"
        }
    }

    /// The journal's host_id, from its oldest segment's header; waits until ledgerd wrote one.
    private func waitForHostID(_ paths: JournalPaths, _ watcher: JournalWatcher, _ board: StatusBoard) throws -> String? {
        var logged = false
        var loggedHeader = false
        while !isStopping {
            let segments = (try? SegmentFile.list(in: paths.journal)) ?? []
            if let first = segments.first {
                let scanner: SegmentScanner
                do { scanner = try SegmentScanner(path: first.path) } catch let error as IOError
                    where error.code == .noSuchFile {
                    // Retention deleted it between the listing and the open; the next one is oldest now.
                    continue
                }
                switch scanner.header {
                case let .success(header): return header.hostID
                case .failure(.truncated) where segments.count == 1:
                    // ledgerd creates a segment's file, then writes its header: at its very first
                    // start the relay can look in between. A crash there leaves the file so until
                    // ledgerd's next start, whose recovery removes it; waiting is right either way.
                    if !loggedHeader {
                        log.info("waiting for ledgerd to write the first segment's header", ["segment": first.path])
                        loggedHeader = true
                    }
                    try watcher.wait(timeoutNanos: Self.headerRetryNanos)
                    continue
                case let .failure(problem):
                    throw RelayError.journal("\(first.path): \(problem)")
                }
            }
            if !logged {
                log.info("waiting for ledgerd's journal", ["journal": paths.journal])
                logged = true
            }
            try watcher.wait(timeoutNanos: nil)
        }
        return nil
    }

    /// How soon a header caught half-written is read again when no inotify event comes first.
    static let headerRetryNanos: UInt64 = 50_000_000
}
