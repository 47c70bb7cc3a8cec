import Glibc
import Testing
@testable import LedgerPosix

@Suite struct SignalsTests {
    @Test func signal_numbers_match_the_platform() {
        #expect(Signal.hangup.rawValue == SIGHUP)
        #expect(Signal.interrupt.rawValue == SIGINT)
        #expect(Signal.terminate.rawValue == SIGTERM)
        #expect(Signal.terminate.description == "SIGTERM")
    }

    @Test func waiter_calls_the_handler_on_its_thread_and_stops() throws {
        let received = Lock()
        nonisolated(unsafe) var signals: [Signal] = []
        let wake = try EventFD()
        let epoll = try Epoll()
        try epoll.add(wake.descriptor, events: .readable)

        let waiter = try SignalWaiter([.hangup]) { signal in
            received.withLock { signals.append(signal) }
            try? wake.signal()
        }
        // Aimed at the waiter's thread, where SIGHUP is blocked, never at the
        // whole test process (other threads there have the default action).
        #expect(pthread_kill(waiter.threadForTesting, SIGHUP) == 0)
        var woke = false
        try epoll.wait(timeout: .seconds(10)) { _ in woke = true }
        #expect(woke)
        #expect(received.withLock { signals } == [.hangup])

        waiter.stop()
        waiter.stop()  // idempotent
        #expect(received.withLock { signals } == [.hangup])  // the stop signal is not reported
    }
}
