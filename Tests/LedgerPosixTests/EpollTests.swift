import Foundation
import Glibc
import Testing
@testable import LedgerPosix

@Suite struct EpollTests {
    /// Collects the events of one wait.
    private func events(_ epoll: Epoll, timeout: Duration = .zero) throws -> [EpollEvent] {
        var seen: [EpollEvent] = []
        try epoll.wait(timeout: timeout) { seen.append($0) }
        return seen
    }

    @Test func socket_becomes_readable_with_its_token() throws {
        let (a, b) = try UnixSocket.pair()
        defer { try? a.close(); try? b.close() }
        let epoll = try Epoll()
        try epoll.add(a, events: [.readable, .readHangup], token: 7)
        #expect(try events(epoll).isEmpty)

        try b.write(Array("x".utf8))
        let ready = try events(epoll, timeout: .seconds(5))
        #expect(ready == [EpollEvent(token: 7, events: .readable)])
    }

    @Test func level_triggered_repeats_edge_triggered_does_not() throws {
        let (a, b) = try UnixSocket.pair()
        defer { try? a.close(); try? b.close() }
        let level = try Epoll()
        let edge = try Epoll()
        try level.add(a, events: .readable)
        try edge.add(a, events: [.readable, .edgeTriggered])
        try b.write(Array("x".utf8))

        #expect(try events(level).count == 1)
        #expect(try events(level).count == 1)  // still unread: reported again
        #expect(try events(edge).count == 1)
        #expect(try events(edge).isEmpty)  // no new data: no new edge
        try b.write(Array("y".utf8))
        #expect(try events(edge).count == 1)
    }

    @Test func default_token_is_the_descriptor_number() throws {
        let (a, b) = try UnixSocket.pair()
        defer { try? a.close(); try? b.close() }
        let epoll = try Epoll()
        try epoll.add(a, events: .writable)
        #expect(try events(epoll) == [EpollEvent(token: UInt64(a.rawValue), events: .writable)])
    }

    @Test func modify_and_delete_change_what_is_reported() throws {
        let (a, b) = try UnixSocket.pair()
        defer { try? a.close(); try? b.close() }
        let epoll = try Epoll()
        try epoll.add(a, events: .readable, token: 1)
        #expect(try events(epoll).isEmpty)
        try epoll.modify(a, events: [.readable, .writable], token: 2)
        #expect(try events(epoll) == [EpollEvent(token: 2, events: .writable)])
        try epoll.delete(a)
        #expect(try events(epoll).isEmpty)
        let error = #expect(throws: IOError.self) { try epoll.delete(a) }
        #expect(error?.errno == ENOENT)
    }

    @Test func peer_shutdown_is_reported_as_read_hangup() throws {
        let (a, b) = try UnixSocket.pair()
        defer { try? a.close(); try? b.close() }
        let epoll = try Epoll()
        try epoll.add(a, events: [.readable, .readHangup], token: 3)
        try b.shutdown(.write)
        let ready = try events(epoll, timeout: .seconds(5))
        #expect(ready.count == 1)
        #expect(ready.first?.events.contains(.readHangup) == true)
    }

    @Test func wait_times_out_with_no_events() throws {
        let epoll = try Epoll()
        let start = SystemClock.monotonicNanoseconds()
        #expect(try events(epoll, timeout: .milliseconds(30)).isEmpty)
        #expect(SystemClock.monotonicNanoseconds() - start >= 25_000_000)
    }

    @Test func eventfd_wakes_a_waiting_loop_from_another_thread() throws {
        let wake = try EventFD()
        let epoll = try Epoll()
        try epoll.add(wake.descriptor, events: .readable, token: 99)
        #expect(try wake.drain() == 0)

        // A plain thread, not a Task: the wait below blocks its thread, and the
        // cooperative pool on a 2-core machine may have no other thread free.
        Thread.detachNewThread {
            usleep(20_000)
            try? wake.signal()
            try? wake.signal()
        }
        let ready = try events(epoll, timeout: .seconds(10))
        #expect(ready == [EpollEvent(token: 99, events: .readable)])
        #expect(try wake.drain() >= 1)  // the second signal may land after the drain
        usleep(50_000)
        _ = try wake.drain()
        try wake.signal()
        try wake.signal()
        #expect(try wake.drain() == 2)  // signals before a drain coalesce
        #expect(try events(epoll).isEmpty)
    }

    @Test(arguments: [
        (Duration.zero, 0), (.nanoseconds(1), 1), (.microseconds(999), 1), (.milliseconds(1), 1),
        (.microseconds(1001), 2), (.seconds(2), 2000), (.seconds(-1), 0), (.seconds(Int64.max), Int32.max),
    ] as [(Duration, Int32)])
    func timeout_rounds_up_to_whole_milliseconds(duration: Duration, milliseconds: Int32) {
        #expect(Epoll.milliseconds(roundingUp: duration) == milliseconds)
    }

    @Test func events_describe_themselves() {
        #expect(EpollEvents([.readable, .edgeTriggered]).description == "[readable, edgeTriggered]")
    }
}
