import Dispatch
import Foundation
import Glibc
import LedgerPosix
import Testing

/// Writers whose reading ledgerd has paused (docs/PROTOCOL.md: answers waiting past
/// --max-unread, or too much waiting for the disk) and who then hang up or stop sending. The
/// journal is held (LEDGER_TEST_JOURNAL_HOLD, a stalled disk) so the pauses last while observed.
final class PausedWriters {
    static let unreadLines = 2000
    static let lateLines = 100
    /// 70 lines of 512 KiB: past the 32 MiB ledgerd lets wait for the disk.
    static let floodLines = 70
    static var total: Int { unreadLines + lateLines + floodLines }

    let daemon: DaemonHarness
    let hold: String
    /// Paused because its answers, all waiting for the disk, pass --max-unread.
    var unread: Client?
    /// Paused before its first line is read: too much already waits for the disk.
    var late: Client?
    /// Puts more than the in-flight limit on hold; paused itself, its sender blocked.
    let flood: Client
    private let floodSent = DispatchSemaphore(value: 0)

    init() throws {
        let daemon = try DaemonHarness(["--standalone", "--max-unread", "64KiB"])
        hold = daemon.dir + "/journal-hold"
        try daemon.start(environment: ["LEDGER_TEST_JOURNAL_HOLD": hold])
        try FileSystem.writeAtomically(Array("held\n".utf8), to: hold)
        let unread = try Client(daemon.socket)
        try unread.send((0..<Self.unreadLines).map { event("unread-\($0 % 4)") + "\n" }.joined())
        guard try daemon.waitForStatus({ try $0.statusNumber("connections", "unread_paused") == 1 }) else {
            throw HarnessError("the unread writer was not paused")
        }
        let flood = try Client(daemon.socket)
        let payload = Array((0..<Self.floodLines).map { _ in event("flood", padding: 512 << 10) + "\n" }.joined().utf8)
        DispatchQueue.global().async { [floodSent] in
            try? flood.send(payload)
            floodSent.signal()
        }
        guard try daemon.waitForStatus({ try $0.statusNumber("connections", "paused") == 1 }) else {
            throw HarnessError("the flood was not paused")
        }
        let late = try Client(daemon.socket)
        try late.send((0..<Self.lateLines).map { _ in event("late") + "\n" }.joined())
        guard try daemon.waitForStatus({ try $0.statusNumber("connections", "paused") == 2 }) else {
            throw HarnessError("the late writer was not paused")
        }
        (self.daemon, self.unread, self.late, self.flood) = (daemon, unread, late, flood)
    }

    /// The disk comes back: everything held is written and answered, reading resumes.
    func releaseJournal() throws {
        try FileSystem.unlink(hold)
    }

    /// The flood's answers, once its sender got through (after `releaseJournal`).
    func floodAnswers() throws -> [Response] {
        guard floodSent.wait(timeout: .now() + 60) == .success else { throw HarnessError("the flood was never read") }
        try flood.finishSending()
        return flood.readToEnd().split(separator: "\n").map { Response(String($0)) }
    }
}

extension DaemonTests {
    /// A hung-up peer makes epoll report EPOLLHUP at every wait, whatever the interest: while
    /// the connection's reading is paused the loop must not keep waking for it. The lines sent
    /// before hanging up are still ingested once reading resumes.
    @Test func writers_that_hang_up_while_paused_leave_the_loop_idle_and_every_line_is_ingested() throws {
        let writers = try PausedWriters()
        let daemon = writers.daemon
        writers.unread = nil  // close(2): the peer is gone both ways
        writers.late = nil
        usleep(200_000)
        let cpu = try daemon.cpuSeconds(over: Self.measuredSeconds)
        #expect(cpu < Self.idleCPUSeconds, "ledgerd used \(cpu) s of CPU in \(Self.measuredSeconds) s, paused")
        try writers.releaseJournal()
        let flood = try writers.floodAnswers()
        #expect(flood.count == PausedWriters.floodLines && flood.allSatisfy { $0.ok })
        #expect(try daemon.waitForStatus { try $0.statusNumber("journal", "durable_host_seq") == PausedWriters.total })
        #expect(try daemon.statusNumber("records", "accepted") == PausedWriters.total)
        #expect(try daemon.waitForStatus { try $0.statusNumber("connections", "open") == 0 })
        #expect(try daemon.terminate() == 0)
        #expect(try daemon.journalLines().count == PausedWriters.total)
    }

    /// A writer that only shut down its sending side (`nc -N`, `shutdown(SHUT_WR)`) while paused
    /// still reads: it gets an answer for every line, in order, and every line is ingested.
    @Test func writers_that_stop_sending_while_paused_get_every_answer() throws {
        let writers = try PausedWriters()
        let daemon = writers.daemon
        let unread = try #require(writers.unread)
        let late = try #require(writers.late)
        try unread.finishSending()
        try late.finishSending()
        usleep(200_000)
        try writers.releaseJournal()
        for (client, count) in [(unread, PausedWriters.unreadLines), (late, PausedWriters.lateLines)] {
            let answers = client.readToEnd().split(separator: "\n").map { Response(String($0)) }
            #expect(answers.count == count)
            #expect(answers.allSatisfy { $0.ok })
            var last: [String: Int] = [:]
            for answer in answers {
                guard let agent = answer.agentID, let sequence = answer.sequence else { continue }
                #expect(sequence > last[agent] ?? 0)
                last[agent] = sequence
            }
        }
        #expect(try writers.floodAnswers().count == PausedWriters.floodLines)
        #expect(try daemon.waitForStatus { try $0.statusNumber("journal", "durable_host_seq") == PausedWriters.total })
        #expect(try daemon.statusNumber("records", "responses_dropped") == 0)
        #expect(try daemon.terminate() == 0)
    }
}
