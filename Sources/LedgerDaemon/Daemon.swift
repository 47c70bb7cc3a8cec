// ledgerd's start-up and shutdown: recovery, sockets, the journal thread, the
// event loop, and the SIGTERM drain (stop accepting, answer what is in flight,
// fsync, exit 0).

import LedgerCore
import LedgerJournal
import LedgerPosix

/// The host daemon. `run()` blocks until SIGTERM/SIGINT has drained it.
public final class Daemon {
    public let configuration: DaemonConfiguration
    let log: Logger

    public init(configuration: DaemonConfiguration, log: Logger = Logger(component: "ledgerd")) {
        self.configuration = configuration
        self.log = log
    }

    /// Parses flags, environment and config file, and runs the daemon. Returns the exit status.
    public static func main(_ arguments: [String]) -> Int32 {
        // Before any thread exists, so every thread inherits the blocked mask.
        SignalWaiter.blockInCurrentThread()
        SignalWaiter.ignoreBrokenPipe()
        let log = Logger(component: "ledgerd")
        let parsed: Configuration
        do {
            parsed = try DaemonConfiguration.spec.parse(arguments)
        } catch {
            log.error("bad configuration", ["error": error])
            return 2
        }
        if parsed.helpRequested {
            try? FileDescriptor.standardOutput.write(Array(DaemonConfiguration.spec.helpText().utf8))
            return 0
        }
        do {
            try Daemon(configuration: DaemonConfiguration(parsed), log: log).run()
            return 0
        } catch {
            log.error("ledgerd stopped", ["error": error])
            return 1
        }
    }

    /// Recovers the journal, listens and serves until drained.
    public func run() throws {
        let c = configuration
        guard c.maxLineBytes > 0, c.maxDiskBytes > 0, c.segmentSize >= 4096 else {
            throw DaemonError.configuration("--max-line, --max-disk and --segment-size (>= 4096) must be positive")
        }
        // Socket activation first: it must read (and clear) LISTEN_* before any thread starts.
        let activated = UnixSocket.socketsFromSystemd()

        let paths = JournalPaths(dataDirectory: c.dataDirectory)
        var dedupe = DedupeWindow(capacity: c.dedupeWindow)
        let started = SystemClock.monotonicNanoseconds()
        let recovered = try JournalRecovery.recover(paths: paths, hostID: c.hostID, log: log) { record in
            dedupe.insert(id: record.id, .init(agentID: record.agentID, sequence: record.sequence, hash: record.hash,
                                               hostSeq: record.hostSeq))
        }
        log.info("journal recovered", [
            "records": recovered.records, "chains": recovered.chains.chainCount,
            "last_host_seq": recovered.chains.lastHostSeq, "segments": recovered.segments.count,
            "truncated_bytes": recovered.truncatedBytes, "quarantined": recovered.quarantined.count,
            "lost_durable_records": recovered.lostDurableCount,
            "ms": (SystemClock.monotonicNanoseconds() - started) / 1_000_000])
        let writer = try JournalWriter(paths: paths, hostID: c.hostID, recovered: recovered, segmentSize: c.segmentSize,
                                       preallocate: true, log: log.withComponent("journal"))

        var listeners: [FileDescriptor] = []
        var ownsSocketFile = false
        if !activated.isEmpty {
            listeners = activated
            for fd in activated { try fd.setNonBlocking() }
            log.info("using sockets from systemd", ["count": activated.count])
        } else {
            listeners = [try UnixSocket.listen(at: c.socketPath, permissions: c.socketMode, group: c.socketGroup)]
            ownsSocketFile = true
        }
        let admin = try UnixSocket.listen(at: c.adminSocketPath, permissions: c.socketMode, group: c.socketGroup)
        defer {
            for fd in listeners { try? fd.close() }
            try? admin.close()
            if ownsSocketFile { try? FileSystem.unlink(c.socketPath, ignoreMissing: true) }
            try? FileSystem.unlink(c.adminSocketPath, ignoreMissing: true)
        }

        let wake = try EventFD()
        let stopEvent = try EventFD()
        let committer = GroupCommitter(writer: writer, policy: c.retention, wake: wake, log: log.withComponent("journal"),
                                       holdFile: c.journalHoldFile)
        committer.start()
        let signals = try SignalWaiter([.terminate, .interrupt]) { [log] signal in
            log.info("received \(signal)")
            try? stopEvent.signal()
        }
        defer { signals.stop() }
        let loop = try EventLoop(configuration: c, log: log, listeners: listeners, adminListener: admin,
                                 committer: committer, wake: wake, stopEvent: stopEvent, recovered: recovered,
                                 dedupe: dedupe)
        log.info("listening", [
            "socket": activated.isEmpty ? c.socketPath : "systemd", "admin": c.adminSocketPath, "host_id": c.hostID,
            "data_dir": c.dataDirectory, "max_disk": c.maxDiskBytes, "standalone": c.retention.standalone])
        try loop.run()
        committer.stop()
        let final = committer.snapshot
        log.info("drained", ["durable_host_seq": final.durable, "last_host_seq": loop.chains.lastHostSeq])
        if let failure = final.failure { throw JournalError.failed(underlying: failure) }
    }
}
