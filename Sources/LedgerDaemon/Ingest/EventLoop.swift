// The socket side of ledgerd: one epoll thread accepts, reads, parses,
// validates and seals records for every connection, and writes responses.
// Sockets are non-blocking; nothing in the loop waits for a client or the
// disk, so one slow or silent writer never stalls the others. Durability is
// the GroupCommitter's business; the loop learns of it through an eventfd.
//
// INVARIANT: the loop alone owns HostChains and the RecordBuilder, so host_seq
// is handed out +1 in the order frames enter the batch, which is the order the
// journal writes them.

import LedgerCore
import LedgerJournal
import LedgerPosix

/// Counters shown by `ledgerctl status`.
struct IngestCounters {
    var accepted: UInt64 = 0
    var deduplicated: UInt64 = 0
    var rejected: [String: UInt64] = [:]
    var droppedResponses: UInt64 = 0
    var connectionsTotal: UInt64 = 0
    var diskFullRefusals: UInt64 = 0
    /// The last line was refused for the disk cap, and none has been accepted since.
    var diskFull = false
}

final class EventLoop {
    static let adminToken: UInt64 = 16
    static let wakeToken: UInt64 = 17
    static let stopToken: UInt64 = 18
    static let firstConnectionToken: UInt64 = 1 << 20

    let configuration: DaemonConfiguration
    let log: Logger
    let epoll: Epoll
    let listeners: [FileDescriptor]
    let adminListener: FileDescriptor?
    let wake: EventFD
    let stopEvent: EventFD
    let committer: GroupCommitter

    var connections: [UInt64: Connection] = [:]
    var nextToken = firstConnectionToken
    let builder: RecordBuilder
    /// Batch, chains, retry window and counters; see IngestState.
    var state: IngestState
    var chains: HostChains { state.chains }
    var counters: IngestCounters { state.counters }
    let startedMicros = SystemClock.nowMicroseconds()
    let quarantinedAtStart: Int
    /// Acknowledged records recovery found missing at this start (docs/JOURNAL.md, "Lost durable records").
    let lostDurableAtStart: UInt64

    /// Frame bytes handed to the committer so far (cumulative).
    var handedBytes: Int64 = 0
    var progress: GroupCommitter.Progress
    /// Connections with responses waiting for durability.
    var waiting: Set<UInt64> = []
    /// Connections whose reading is paused for backpressure.
    var paused: Set<UInt64> = []
    /// Connections whose reading is paused because their writer has not taken its responses.
    var unreadPaused: Set<UInt64> = []

    /// A writer whose socket takes no byte of its waiting responses for this long is taken not
    /// to read: it is read again, and responses past the cap are dropped (docs/PROTOCOL.md). Far
    /// above any scheduling delay of a reader that reads, so a reading writer is never taken for
    /// one; short enough that a writer that never reads waits only once, briefly.
    static let unreadTimeoutNanos: UInt64 = 1_000_000_000
    var draining = false
    var readBuffer = [UInt8](repeating: 0, count: 64 << 10)

    init(configuration: DaemonConfiguration, log: Logger, listeners: [FileDescriptor], adminListener: FileDescriptor?,
         committer: GroupCommitter, wake: EventFD, stopEvent: EventFD, recovered: RecoveryReport,
         dedupe: DedupeWindow) throws {
        self.configuration = configuration
        self.log = log
        self.listeners = listeners
        self.adminListener = adminListener
        self.committer = committer
        self.wake = wake
        self.stopEvent = stopEvent
        self.state = IngestState(chains: recovered.chains, dedupe: dedupe)
        self.quarantinedAtStart = recovered.quarantined.count
        self.lostDurableAtStart = recovered.lostDurableCount
        builder = RecordBuilder(hostID: configuration.hostID)
        progress = committer.snapshot
        epoll = try Epoll(maxEventsPerWait: 256)
        for (index, listener) in listeners.enumerated() {
            try epoll.add(listener, events: .readable, token: UInt64(1 + index))
        }
        if let adminListener { try epoll.add(adminListener, events: .readable, token: Self.adminToken) }
        try epoll.add(wake.descriptor, events: .readable, token: Self.wakeToken)
        try epoll.add(stopEvent.descriptor, events: .readable, token: Self.stopToken)
    }

    /// Runs until a drain finishes.
    func run() throws {
        while true {
            try epoll.wait(timeout: draining ? .milliseconds(50) : .seconds(1)) { event in
                try handle(event)
            }
            handOver()
            if !unreadPaused.isEmpty { checkUnreadPaused() }
            if draining, try drainStep() { return }
        }
    }

    private func handle(_ event: EpollEvent) throws {
        switch event.token {
        case Self.wakeToken:
            try wake.drain()
            durabilityAdvanced()
        case Self.stopToken:
            try stopEvent.drain()
            beginDrain()
        case Self.adminToken:
            acceptAll(from: adminListener!, admin: true)
        case 1..<Self.adminToken:
            acceptAll(from: listeners[Int(event.token) - 1], admin: false)
        default:
            guard let connection = connections[event.token] else { return }
            let hungUp = event.events.contains(.hangup) || event.events.contains(.error)
            if hungUp { peerHungUp(connection) }
            if event.events.contains(.writable) { writable(connection) }
            if event.events.contains(.readable) || hungUp { readable(connection) }
            finishIfDone(connection)
            // Reading may be paused (or over) with the connection still open: then it must leave
            // the epoll set, which updateInterest sees to.
            if hungUp, connections[connection.id] != nil { updateInterest(connection) }
            // A busy round may take many milliseconds: release what became durable meanwhile
            // instead of waiting for the eventfd at the next round (p99 latency).
            pollDurability()
        }
    }

    /// Releases responses if the journal thread advanced since the last look (one lock).
    func pollDurability() {
        if committer.durableHostSeq != progress.durable { durabilityAdvanced() }
    }

    // MARK: accepting

    private func acceptAll(from listener: FileDescriptor, admin: Bool) {
        guard !draining else { return }
        while true {
            let accepted: FileDescriptor?
            do {
                accepted = try listener.accept()
            } catch {
                // EMFILE and friends: log and leave the rest in the backlog for the next round.
                log.error("accept failed", ["error": error])
                return
            }
            guard let fd = accepted else { return }
            let origin: Origin
            do {
                let peer = try fd.peerCredentials()
                origin = .unix(uid: peer.uid, gid: peer.gid, pid: peer.pid)
            } catch {
                log.warn("dropping a connection without peer credentials", ["error": error])
                try? fd.close()
                continue
            }
            let token = nextToken
            nextToken += 1
            let connection = Connection(id: token, descriptor: fd, origin: origin, isAdmin: admin)
            let interest: EpollEvents = admin ? [] : .readable
            do {
                try epoll.add(fd, events: interest, token: token)
            } catch {
                log.error("epoll add failed", ["error": error])
                try? fd.close()
                continue
            }
            connection.interest = interest
            connections[token] = connection
            if admin {
                connection.readClosed = true
                connection.output = statusDocument()
                flush(connection)
                finishIfDone(connection)
            } else {
                state.counters.connectionsTotal += 1
            }
        }
    }

    // MARK: reading

    private func readable(_ connection: Connection) {
        guard !connection.readClosed, !draining else { return }
        if inFlightBytes > configuration.maxInFlightBytes {
            pauseReading(connection)
            return
        }
        // Answers the writer has not taken count against the cap; past it, its lines wait in its
        // socket until it reads (or is found not to read at all, see checkUnreadPaused).
        if !connection.ignoresResponses && !connection.writeClosed
            && connection.outstandingResponseBytes > configuration.maxUnreadResponseBytes {
            connection.unreadPaused = true
            unreadPaused.insert(connection.id)
            updateInterest(connection)
            return
        }
        // One bounded read per readiness event (epoll is level-triggered and reports the rest
        // next round): a flooding writer gets its share, not the loop.
        let count: Int?
        do {
            count = try readBuffer.withUnsafeMutableBytes { try connection.descriptor.tryRead(into: $0) }
        } catch {
            count = 0  // ECONNRESET: treat as end of input
        }
        guard let count else { return }
        if count == 0 {
            endOfInput(connection)
            return
        }
        readBuffer.withUnsafeBytes { raw in
            connection.input.append(contentsOf: UnsafeRawBufferPointer(rebasing: raw[..<count]))
        }
        processLines(connection, atEOF: false)
        // Keep batches moving while a busy round goes on, so group commit overlaps with parsing.
        if state.batch.count >= Self.handOverBytes { handOver() }
    }

    /// A batch this large is handed over without waiting for the end of the round.
    static let handOverBytes = 256 << 10

    private func endOfInput(_ connection: Connection) {
        processLines(connection, atEOF: true)
        connection.readClosed = true
        updateInterest(connection)
    }

    var inFlightBytes: Int { Int(handedBytes - progress.writtenBytes) + state.batch.count }

    private func pauseReading(_ connection: Connection) {
        guard !connection.readPaused else { return }
        connection.readPaused = true
        paused.insert(connection.id)
        updateInterest(connection)
    }

    private func resumeReading() {
        guard !paused.isEmpty, inFlightBytes <= configuration.maxInFlightBytes / 2 else { return }
        for id in paused {
            guard let connection = connections[id] else { continue }
            connection.readPaused = false
            updateInterest(connection)
        }
        paused.removeAll()
    }

    /// Registers what the connection waits for now. A hung-up connection that waits for nothing
    /// (its reading paused or over, nothing to write) leaves the epoll set instead, since
    /// EPOLLHUP would wake every wait at once until the pause ends; resuming brings it back, and
    /// its remaining lines are read then (docs/PROTOCOL.md: none is lost).
    func updateInterest(_ connection: Connection) {
        var events: EpollEvents = []
        if !connection.readClosed && !connection.readPaused && !connection.unreadPaused && !draining && !connection.isAdmin {
            events.insert(.readable)
        }
        if connection.waitingForWritable { events.insert(.writable) }
        let wanted: EpollEvents? = connection.peerHungUp && events.isEmpty ? nil : events
        guard wanted != connection.interest else { return }
        let fd = connection.descriptor
        do {
            switch (connection.interest, wanted) {
            case let (nil, events?): try epoll.add(fd, events: events, token: connection.id)
            case (_?, nil): try epoll.delete(fd)
            case let (_?, events?): try epoll.modify(fd, events: events, token: connection.id)
            case (nil, nil): break
            }
            connection.interest = wanted
        } catch {
            log.error("epoll registration failed", ["connection": connection.id, "error": error])
        }
    }

    /// EPOLLHUP/EPOLLERR: the peer closed (or shut down both ways). Writing can only fail now;
    /// a flush finds out, so that a full socket is no longer waited on. What the peer sent
    /// before is still in the socket, to be read as usual.
    private func peerHungUp(_ connection: Connection) {
        guard !connection.peerHungUp else { return }
        connection.peerHungUp = true
        if connection.unsentOutput > 0 { flush(connection) }
    }

    // MARK: writing

    private func writable(_ connection: Connection) {
        // flush() drops EPOLLOUT from the interest once the output is out. Clearing the flag
        // first would hide that change from it: EPOLLOUT would stay registered on a socket that
        // stays writable, and every wait would return at once while the connection is open.
        flush(connection)
        if connection.unreadPaused { checkUnreadPaused() }
    }

    /// Resumes reading writers that took enough of their responses, and those that took none for
    /// the unread timeout (from then on their responses past the cap are dropped).
    func checkUnreadPaused() {
        let now = SystemClock.monotonicNanoseconds()
        for id in unreadPaused {
            guard let connection = connections[id] else {
                unreadPaused.remove(id)
                continue
            }
            let caughtUp = connection.outstandingResponseBytes <= configuration.maxUnreadResponseBytes / 2
            let silent = connection.stalledSince != 0 && now - connection.stalledSince >= Self.unreadTimeoutNanos
            guard caughtUp || silent || connection.readClosed || connection.writeClosed else { continue }
            if silent && !caughtUp {
                connection.ignoresResponses = true
                log.info("a writer does not read its responses; dropping those past --max-unread",
                         ["connection": id, "origin": "\(connection.origin)"])
            }
            connection.unreadPaused = false
            unreadPaused.remove(id)
            updateInterest(connection)
        }
    }

    func flush(_ connection: Connection) {
        let done = connection.flush()
        if done == connection.waitingForWritable {
            connection.waitingForWritable = !done
            updateInterest(connection)
        }
    }

    func finishIfDone(_ connection: Connection) {
        guard connection.isFinished else { return }
        if connection.interest != nil { try? epoll.delete(connection.descriptor) }
        try? connection.descriptor.close()
        connections.removeValue(forKey: connection.id)
        waiting.remove(connection.id)
        paused.remove(connection.id)
        unreadPaused.remove(connection.id)
    }

    // MARK: durability

    /// Hands the batch to the journal thread (one lock per loop iteration).
    func handOver() {
        guard !state.batch.isEmpty else { return }
        handedBytes += Int64(state.batch.count)
        committer.submit(&state.batch, last: state.chains.lastHostSeq)
    }

    func durabilityAdvanced() {
        let previousFailure = progress.failure
        progress = committer.snapshot
        if progress.failure != nil && previousFailure == nil {
            failUndurable()
        }
        for id in waiting {
            guard let connection = connections[id] else { continue }
            let dropped = connection.release(durable: progress.durable, maxUnread: configuration.maxUnreadResponseBytes)
            state.counters.droppedResponses += UInt64(dropped)
            if connection.unsentOutput > 0 { flush(connection) }
        }
        waiting = waiting.filter { connections[$0]?.hasPending ?? false }
        for id in Array(connections.keys) {
            if let connection = connections[id], connection.readClosed { finishIfDone(connection) }
        }
        resumeReading()
    }

    /// The journal failed: records past the durable position may not be on disk. Their
    /// writers get UNAVAILABLE instead of `ok`.
    private func failUndurable() {
        log.error("journal failed: answering UNAVAILABLE until restart", ["reason": progress.failure ?? ""])
        let durable = progress.durable
        for id in waiting {
            connections[id]?.failPending(after: durable) { line in
                var out: [UInt8] = []
                Responses.unavailable(line: line, "the journal failed before this record was durable; "
                    + "it may or may not be stored: resend it with the same id", into: &out)
                return out
            }
        }
    }

    // MARK: draining

    private func beginDrain() {
        guard !draining else { return }
        draining = true
        log.info("draining: no new connections or lines; answering what is in flight")
        for listener in listeners { try? epoll.delete(listener) }
        if let adminListener { try? epoll.delete(adminListener) }
        drainStarted = SystemClock.monotonicNanoseconds()
        for connection in connections.values {
            if !connection.readClosed { drainInput(connection) }
            connection.readClosed = true
            updateInterest(connection)
        }
    }

    /// Takes what a writer already sent (it is in the socket buffer, so the writer believes it
    /// delivered): complete lines are ingested and answered; a partial line is not.
    private func drainInput(_ connection: Connection) {
        var budget = 64 << 20
        while budget > 0 {
            let count: Int?
            do {
                count = try readBuffer.withUnsafeMutableBytes { try connection.descriptor.tryRead(into: $0) }
            } catch {
                count = 0
            }
            guard let count, count > 0 else {
                if count == 0 { processLines(connection, atEOF: true) }
                return
            }
            budget -= count
            readBuffer.withUnsafeBytes { raw in
                connection.input.append(contentsOf: UnsafeRawBufferPointer(rebasing: raw[..<count]))
            }
            processLines(connection, atEOF: false)
        }
    }

    var drainStarted: UInt64 = 0

    /// Whether the drain is complete: everything durable and answered (or timed out).
    private func drainStep() throws -> Bool {
        if progress.durable < chains.lastHostSeq && progress.failure == nil { return false }
        for connection in Array(connections.values) { finishIfDone(connection) }
        let elapsed = SystemClock.monotonicNanoseconds() - drainStarted
        if connections.isEmpty || elapsed > UInt64(configuration.drainTimeoutMillis) * 1_000_000 {
            for connection in connections.values { try? connection.descriptor.close() }
            connections.removeAll()
            return true
        }
        return false
    }
}
