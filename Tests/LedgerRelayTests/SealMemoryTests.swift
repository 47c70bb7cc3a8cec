@testable import LedgerRelay
import LedgerCore
import LedgerPosix
import Testing

/// While sealing is the bottleneck (a backlog drain), the seal pool always has jobs waiting.
/// Nothing on the sealing side may keep a batch the uploader already took: each one holds a
/// compressed body of up to a few MiB, and a drain cuts thousands of them.
@Suite struct SealMemoryTests {
    private func pending(_ seq: UInt64, _ body: [UInt8]) -> PendingBatch {
        PendingBatch(firstHostSeq: seq, lastHostSeq: seq, predecessorHostSeq: seq - 1, count: 1, body: body,
                     openedAtNanos: 0)
    }

    private func poorlyCompressible(_ size: Int) -> [UInt8] {
        var generator = SplitMix64(seed: 11)
        return (0..<size).map { _ in UInt8(ascii: "a") + UInt8(generator.next() % 16) }
    }

    @Test func ticketsTheUploaderTookAreFreedWhileJobsKeepArriving() throws {
        let pool = SealPool(sealers: [BatchSealer(key: try Ed25519PrivateKey(), hostID: "unit-host", level: 1)],
                            log: Logger(component: "test", threshold: .error))
        pool.start()
        defer { pool.stop() }
        let body = poorlyCompressible(128 << 10)
        var seq: UInt64 = 1
        func submitNext(_ ahead: inout [SealTicket]) {
            let ticket = SealTicket(pending(seq, body))
            seq += 1
            ahead.append(ticket)
            pool.submit(ticket)
        }
        // The producer keeps three tickets ahead of the uploader, so the pool never runs dry.
        var ahead: [SealTicket] = []
        for _ in 0..<3 { submitNext(&ahead) }
        var taken: [() -> SealTicket?] = []
        for _ in 0..<40 {
            let head = ahead.removeFirst()
            #expect(head.wait() != nil)
            weak let weakHead = head
            taken.append { weakHead }
            submitNext(&ahead)
        }
        let alive = taken.filter { $0() != nil }.count
        // The seal thread may still hold the last ticket it sealed until it takes the next job.
        #expect(alive <= 1, "\(alive) of \(taken.count) tickets the uploader dropped are still referenced")
        for ticket in ahead { _ = ticket.wait() }
    }

    @Test func aTicketGivesUpItsSealedBodyWhenItHandsItOver() throws {
        let sealer = BatchSealer(key: try Ed25519PrivateKey(), hostID: "unit-host", level: 1)
        let ticket = SealTicket(pending(1, poorlyCompressible(64 << 10)))
        let batch = try #require(ticket.takeForSealing())
        ticket.fulfil(try sealer.seal(batch))
        var handed = try #require(ticket.wait())
        // Copy on write: the write below happens in place only if nothing else (the ticket)
        // still shares the compressed body's storage.
        let before = handed.compressed.withUnsafeBufferPointer { $0.baseAddress }
        handed.compressed[0] ^= 0xFF
        let after = handed.compressed.withUnsafeBufferPointer { $0.baseAddress }
        withExtendedLifetime(ticket) {
            #expect(before == after, "the ticket still holds the compressed body it handed over")
        }
    }
}
