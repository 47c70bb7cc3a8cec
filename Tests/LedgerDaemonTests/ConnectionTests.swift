import LedgerCore
@testable import LedgerDaemon
import LedgerPosix
import Testing

/// Response release on a real socket pair, in process.
@Suite struct ConnectionTests {
    /// A writer not found to ignore its responses gets every one, however many one group commit
    /// releases at once: the loop bounds that by pausing its reading, never by dropping.
    @Test func a_release_drops_nothing_for_a_writer_that_was_not_found_to_ignore_responses() throws {
        let (daemonSide, writerSide) = try UnixSocket.pair()
        defer { try? writerSide.close() }
        try daemonSide.setNonBlocking()
        let connection = Connection(id: 1, descriptor: daemonSide, origin: .unix(uid: 0, gid: 0, pid: 1))
        let response = Array(repeating: UInt8(ascii: "x"), count: 99) + [UInt8(ascii: "\n")]
        let total = 20_000  // 2 MB of responses in one release
        for i in 0..<total {
            connection.queue(hostSeq: UInt64(i + 1), line: i + 1, isOK: true) { $0.append(contentsOf: response) }
        }
        #expect(connection.release(durable: UInt64(total), maxUnread: 64 << 10) == 0)
        #expect(connection.droppedResponses == 0)
        #expect(connection.outstandingResponseBytes == total * response.count)
        // The socket fills and takes nothing more: the stall is timed from here.
        #expect(connection.flush() == false)
        #expect(connection.stalledSince != 0)
        try? daemonSide.close()
    }

    /// Once a writer is found not to read, a release is capped. Responses are written to the
    /// socket before they count against the cap, so only what the socket refuses beyond the cap
    /// is dropped: more responses survive than the cap alone could hold.
    @Test func responses_are_written_to_the_socket_before_they_count_against_the_cap() throws {
        let (daemonSide, writerSide) = try UnixSocket.pair()
        defer { try? writerSide.close() }
        try daemonSide.setNonBlocking()
        let connection = Connection(id: 1, descriptor: daemonSide, origin: .unix(uid: 0, gid: 0, pid: 1))
        connection.ignoresResponses = true
        let response = Array(repeating: UInt8(ascii: "x"), count: 99) + [UInt8(ascii: "\n")]
        let total = 20_000  // 2 MB of responses in one release
        for i in 0..<total {
            connection.queue(hostSeq: UInt64(i + 1), line: i + 1, isOK: true) { $0.append(contentsOf: response) }
        }
        let cap = 64 << 10
        let dropped = connection.release(durable: UInt64(total), maxUnread: cap)
        let kept = total - dropped
        #expect(kept * response.count > cap, "\(kept) kept: the socket took none before the cap was applied")
        #expect(connection.unsentOutput <= cap)
        #expect(connection.droppedResponses == dropped)
        try? daemonSide.close()
    }
}
