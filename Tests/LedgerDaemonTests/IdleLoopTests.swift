import Foundation
import Glibc
import LedgerPosix
import Testing

/// The event loop sleeps in epoll_wait when there is nothing it can do: a descriptor registered
/// for an event that is always ready would wake it again at once, a busy spin of one core that
/// no answer shows. Measured as the real ledgerd's CPU time (/proc/PID/stat) while idle.
extension DaemonTests {
    /// An idle daemon wakes once a second; a spinning one uses a whole core (or what it gets of it).
    static let idleCPUSeconds = 0.2
    static let measuredSeconds = 1.5

    @Test func a_writer_whose_socket_was_full_leaves_the_loop_idle_once_it_has_read_its_answers() throws {
        let daemon = try DaemonHarness()
        try daemon.start()
        let client = try Client(daemon.socket)
        let lines = 4000  // about 600 KB of answers: more than the socket holds
        try client.send((0..<lines).map { event("full-\($0 % 4)") + "\n" }.joined())
        // Not read yet: the answers fill the socket and the loop waits for it to take more.
        #expect(try daemon.waitForStatus { try $0.statusNumber("journal", "durable_host_seq") == lines })
        usleep(300_000)
        let answers = client.readLines(lines).map(Response.init)
        #expect(answers.count == lines && answers.allSatisfy(\.ok))
        // The writer stays connected, with nothing more to say.
        let cpu = try daemon.cpuSeconds(over: Self.measuredSeconds)
        #expect(cpu < Self.idleCPUSeconds, "ledgerd used \(cpu) s of CPU in \(Self.measuredSeconds) s with nothing to do")
        #expect(try daemon.terminate() == 0)
    }

    /// A peer that shut down both ways but keeps its descriptor: its receive queue, full of
    /// unread answers, is not freed, so the socket never becomes writable again and only a
    /// write (EPIPE) shows that waiting for it is pointless.
    @Test func a_writer_that_hangs_up_with_its_socket_full_leaves_the_loop_idle() throws {
        let daemon = try DaemonHarness()
        try daemon.start()
        let client = try Client(daemon.socket)
        let lines = 4000  // about 600 KB of answers: more than the socket holds
        try client.send((0..<lines).map { event("gone-\($0 % 4)") + "\n" }.joined())
        #expect(try daemon.waitForStatus { try $0.statusNumber("journal", "durable_host_seq") == lines })
        usleep(300_000)
        try client.fd.shutdown(.both)
        usleep(200_000)
        let cpu = try daemon.cpuSeconds(over: Self.measuredSeconds)
        #expect(cpu < Self.idleCPUSeconds, "ledgerd used \(cpu) s of CPU in \(Self.measuredSeconds) s")
        #expect(try daemon.statusNumber("connections", "open") == 0)
        #expect(try daemon.terminate() == 0)
    }
}
