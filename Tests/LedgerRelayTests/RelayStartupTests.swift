// End-to-end: what ledger-relay does at start when its state and the journal disagree, with
// the real ledgerd, ledger-relay and ledger-server. Serialized like RelayEndToEndTests.

import Foundation
import Glibc
import LedgerJournal
import LedgerPosix
@testable import LedgerRelay
import Testing

@Suite(.serialized)
struct RelayStartupTests {
    /// ledgerd's flags for a journal whose retention would act at once: tiny segments, no
    /// minimum age. Retention runs when ledgerd starts, then every 10 s.
    static let eagerRetention = ["--retain", "0s", "--segment-size", "4KiB"]

    /// Forwards `count` records, then stops the relay and ledgerd: the state directory with its
    /// cursor stays behind.
    private func forwardThenStop(_ stack: TestStack, _ count: Int) throws {
        try forwardThenStopRelay(stack, count)
        stack.daemon?.terminate()
    }

    /// Ten records per group commit, so that 4 KiB segments rotate and retention has sealed
    /// segments to delete.
    private func sendInSmallCommits(_ stack: TestStack, _ count: Int) throws -> Int {
        var accepted = 0
        for _ in 0..<(count / 10) { accepted += try stack.send(10) }
        #expect(try SegmentFile.list(in: JournalPaths(dataDirectory: stack.dataDirectory).journal).count > 5)
        return accepted
    }

    /// Forwards `count` records and stops the relay; ledgerd and the server keep running.
    private func forwardThenStopRelay(_ stack: TestStack, _ count: Int) throws {
        try stack.startServer()
        try stack.startDaemon()
        try stack.enrollKey()
        try stack.startRelay()
        #expect(try stack.send(count) == count)
        try stack.waitForServer(records: count)
        try waitUntil("the cursor reaches \(count)", seconds: 10) { stack.cursor == UInt64(count) }
        stack.relay?.terminate()
    }

    private func cursorFile(_ stack: TestStack) -> RelayCursor? { RelayCursor.read(path: stack.stateDirectory + "/cursor") }

    /// A reinstall with a new host id: the journal is recreated, /var/lib/ledger-relay survives.
    @Test func aCursorOfAnotherHostStopsTheStartAndRetentionKeepsTheNewJournal() throws {
        let stack = try TestStack("otherhost")
        try forwardThenStop(stack, 300)
        let oldHost = stack.hostID
        try FileSystem.removeTree(stack.dataDirectory)
        stack.hostID = oldHost + "-new"
        try stack.enrollKey()
        try stack.startDaemon(Self.eagerRetention)
        let fresh = try sendInSmallCommits(stack, 200)
        // Retention runs at start: believing the old cursor (300) it would delete every sealed
        // segment of the new journal (host_seq 1…200) as forwarded.
        stack.daemon?.terminate()
        try stack.startDaemon(Self.eagerRetention)
        // Retention logs once it has judged the cursor; without that line, give it time to act.
        try? waitUntil("ledgerd says retention ignores the cursor", seconds: 10) {
            stack.daemon?.log.contains("retention ignores the relay cursor") == true
        }
        #expect(stack.daemon?.log.contains("retention ignores the relay cursor") == true)
        #expect(try stack.journalRecordCount() == fresh)

        try stack.startRelay()
        let status = stack.relay?.exitStatus(within: 20)
        #expect(status == Relay.exitNeedsOperator, "the relay should refuse to start (78); it \(status == nil ? "still runs" : "exited \(status!)")")
        let log = stack.relay?.log ?? ""
        #expect(log.contains("refusing to start"), "\(log)")
        #expect(log.contains("belongs to host \\\"\(oldHost)\\\"") && log.contains("\(stack.hostID)"), "\(log)")
        #expect(log.contains("mv \(stack.stateDirectory)/cursor"), "\(log)")
        // Nothing was sent and nothing about the old journal changed.
        #expect(cursorFile(stack) == RelayCursor(ackedHostSeq: 300, hostID: oldHost))
        #expect(try stack.serverHolds()?.records ?? 0 == 0)
        #expect(stack.relayStatus?.state == .stopped)

        // The operator sees both refusals in one place.
        let (code, text) = try runTool("ledgerctl", ["status", "--socket", stack.socketPath])
        #expect(code == 0)
        #expect(text.contains("CURSOR IGNORED: the relay cursor"), "\(text)")
        #expect(text.contains("relay         stopped: refusing to start"), "\(text)")
        #expect(text.contains("unforwarded backlog \(fresh) records"), "\(text)")
        // The way out the message gives: move the cursor away; the new journal goes from its start.
        try FileSystem.rename(stack.stateDirectory + "/cursor", to: stack.stateDirectory + "/cursor.old")
        try stack.startRelay()
        try stack.waitForServer(records: fresh)
        _ = try stack.verifyServer(expected: fresh)
        try waitUntil("the cursor names the new host", seconds: 10) {
            cursorFile(stack) == RelayCursor(ackedHostSeq: UInt64(fresh), hostID: stack.hostID)
        }
    }

    /// The same host id on a wiped data directory: the journal starts again at host_seq 1 while
    /// the cursor says the server holds 1…300.
    @Test func aCursorAheadOfARecreatedJournalStopsTheStart() throws {
        let stack = try TestStack("ahead")
        try forwardThenStop(stack, 300)
        try FileSystem.removeTree(stack.dataDirectory)
        try stack.startDaemon(Self.eagerRetention)
        #expect(try sendInSmallCommits(stack, 100) == 100)
        stack.daemon?.terminate()
        try stack.startDaemon(Self.eagerRetention)
        // Retention logs once it has judged the cursor; without that line, give it time to act.
        try? waitUntil("ledgerd says retention ignores the cursor", seconds: 10) {
            stack.daemon?.log.contains("retention ignores the relay cursor") == true
        }
        #expect(stack.daemon?.log.contains("retention ignores the relay cursor") == true)
        #expect(try stack.journalRecordCount() == 100)

        try stack.startRelay()
        let status = stack.relay?.exitStatus(within: 20)
        #expect(status == Relay.exitNeedsOperator, "the relay should refuse to start (78); it \(status == nil ? "still runs" : "exited \(status!)")")
        let log = stack.relay?.log ?? ""
        #expect(log.contains("acknowledged host_seq 300") && log.contains("ends at host_seq 100"), "\(log)")
        #expect(cursorFile(stack) == RelayCursor(ackedHostSeq: 300, hostID: stack.hostID))
        #expect(try stack.serverHolds()?.records == 300)
    }

    /// ledgerd's very first start creates the first segment's file, then writes its header; a
    /// relay started at the same time can find the file empty or its header cut short, and must
    /// wait for it rather than exit.
    @Test(arguments: [0, 12])
    func aFirstSegmentWithoutItsHeaderYetIsWaitedFor(headerBytes: Int) throws {
        let stack = try TestStack("header\(headerBytes)")
        try stack.startServer()
        try stack.enrollKey()
        let journal = JournalPaths(dataDirectory: stack.dataDirectory)
        try FileSystem.createDirectory(stack.dataDirectory, permissions: 0o750)
        try FileSystem.createDirectory(journal.journal, permissions: 0o750)
        let header = SegmentHeader(firstHostSeq: 1, hostID: stack.hostID).encoded()
        try FileSystem.writeAtomically(Array(header.prefix(headerBytes)),
                                       to: journal.journal + "/" + SegmentFile.name(firstHostSeq: 1), permissions: 0o640)
        try stack.startRelay()
        try waitUntil("the relay says it waits for the header", seconds: 10) {
            stack.relay?.log.contains("waiting for ledgerd to write the first segment's header") == true
                || stack.relay?.isRunning == false
        }
        usleep(300_000)
        #expect(stack.relay?.isRunning == true, "the relay exited: \(stack.relay?.log ?? "")")
        #expect(stack.relayStatus?.state == .starting)

        // ledgerd's recovery removes the headerless segment and writes it again, header first.
        try stack.startDaemon()
        let sent = try stack.send(100)
        try stack.waitForServer(records: sent)
        _ = try stack.verifyServer(expected: sent)
    }

    /// A damaged durable frame in the segment ledgerd is writing holds forwarding back until the
    /// next segment; the relay must say so once, in its log and in `ledgerctl status`.
    @Test func aDamagedDurableFrameInTheActiveSegmentIsReportedOnceAndShownInStatus() throws {
        let stack = try TestStack("stall")
        try forwardThenStopRelay(stack, 100)
        #expect(try stack.send(100) == 100)
        let segment = try #require(try SegmentFile.list(in: JournalPaths(dataDirectory: stack.dataDirectory).journal).last)
        let scanner = try SegmentScanner(path: segment.path)
        var damaged: Int64 = -1
        while damaged < 0 {
            var seen: UInt64 = 0
            let at = scanner.offset
            guard let frame = try scanner.next({ hostSeq, _ in seen = hostSeq }), case .valid = frame.validation else { break }
            if seen == 150 { damaged = at }
        }
        #expect(damaged > 0)
        let fd = try FileDescriptor.open(segment.path, .writeOnly)
        try fd.closeAfter { try fd.pwrite(Array("XX".utf8), at: damaged + 40) }

        try stack.startRelay()
        try stack.waitForServer(records: 149)
        try waitUntil("the relay reports the unreadable record", seconds: 10) {
            stack.relay?.log.contains("a durable journal record cannot be read") == true
        }
        // More records and wake-ups behind the stall: still one report.
        for _ in 0..<5 {
            #expect(try stack.send(10) == 10)
            usleep(100_000)
        }
        let log = stack.relay?.log ?? ""
        #expect(log.components(separatedBy: "a durable journal record cannot be read").count == 2, "\(log)")
        #expect(log.contains("host_seq=150") && log.contains("offset=\(damaged)") && log.contains(segment.path), "\(log)")
        #expect(try stack.serverHolds()?.records == 149)
        try waitUntil("the status file shows the stall", seconds: 5) {
            stack.relayStatus?.journalStall?.contains("host_seq 150 unreadable in \(segment.path) at offset \(damaged)") == true
        }
        let (code, text) = try runTool("ledgerctl", ["status", "--socket", stack.socketPath])
        #expect(code == 0)
        #expect(text.contains("JOURNAL STALLED: host_seq 150 unreadable"), "\(text)")
    }

    /// The server enrolls the key but its 201 never arrives; the retry is refused (the token is
    /// spent), yet batches go through. The first accepted batch settles the enrollment: marker
    /// written, misleading error cleared, token not sent on the next start.
    @Test func anEnrollmentWhoseAnswerWasLostIsSettledByTheFirstAcceptedBatch() throws {
        let stack = try TestStack("enrollost")
        try stack.startServer()
        try stack.startDaemon()
        let token = try stack.enrollmentToken()
        let proxy = try ChaosProxy(upstreamPort: stack.serverPort)
        defer { proxy.close() }
        proxy.mode = .dropResponse
        try stack.startRelay(serverURL: proxy.url, ["--enroll-token", token])
        try waitUntil("the server enrolled the host", seconds: 20) { (try? stack.serverHolds()) != nil }
        proxy.mode = .pass
        try waitUntil("the relay hears the retry refused", seconds: 20) {
            stack.relayStatus?.lastError?.hasPrefix("enrollment refused: 401") == true
        }
        let marker = stack.stateDirectory + "/enrolled"
        #expect(!FileSystem.exists(marker))

        let sent = try stack.send(100)
        try stack.waitForServer(records: sent)
        try waitUntil("the enrollment marker is written", seconds: 10) { FileSystem.exists(marker) }
        try waitUntil("the refusal is cleared from the status", seconds: 10) {
            stack.relayStatus.map { $0.lastError == nil && $0.state == .forwarding } == true
        }
        #expect(stack.relay?.log.contains("the server accepts this host's batches") == true)

        // The token stays configured; the next start does not send it (no second refusal).
        stack.relay?.terminate()
        try stack.startRelay(serverURL: proxy.url, ["--enroll-token", token])
        #expect(try stack.send(50) == 50)
        try stack.waitForServer(records: sent + 50)
        let log = stack.relay?.log ?? ""
        #expect(!log.contains("enrollment refused"), "\(log)")
        #expect(stack.relayStatus?.lastError == nil)
    }

    /// kill -9 between creating a temporary cursor and renaming it leaves `cursor.tmp-…`, under a
    /// new name each time; the next start removes them.
    @Test func temporaryFilesOfInterruptedWritesAreRemovedAtStart() throws {
        let stack = try TestStack("tmpfiles")
        try stack.startServer()
        try stack.startDaemon()
        try stack.enrollKey()
        try FileSystem.createDirectory(stack.stateDirectory, permissions: 0o750)
        let stale = ["cursor.tmp-1f2e3d", "cursor.tmp-99", "enrolled.tmp-abc"]
        for name in stale {
            try FileSystem.writeAtomically(Array("{\"acked_host_seq\":7".utf8), to: stack.stateDirectory + "/" + name)
        }
        try FileSystem.writeAtomically([], to: stack.stateDirectory + "/unrelated.tmp-1")
        try stack.startRelay()
        #expect(try stack.send(20) == 20)
        try stack.waitForServer(records: 20)
        let names = try FileSystem.contentsOfDirectory(stack.stateDirectory)
        #expect(names.filter { $0.contains(".tmp-") } == ["unrelated.tmp-1"], "\(names)")
        #expect(stack.relay?.log.contains("removed a temporary file left by an interrupted write") == true)
    }
}
