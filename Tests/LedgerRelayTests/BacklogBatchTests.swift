import LedgerCore
import LedgerJournal
import LedgerPosix
@testable import LedgerRelay
import Testing

/// Larger batches while behind, and sealing on several threads without losing the order.
@Suite struct BacklogBatchTests {
    func batcher(_ journal: ScratchJournal, after: UInt64 = 0, maxRecords: Int, backlog: Int,
                 maxBytes: Int = 4 << 20) -> Batcher {
        Batcher(reader: JournalReader(dataDirectory: journal.paths.dataDirectory), after: after,
                maxRecords: maxRecords, backlogMaxRecords: backlog, maxBytes: maxBytes,
                log: Logger(component: "test", threshold: .error))
    }

    @Test func aBatchGrowsPastTheRecordCountOnlyWhileRecordsAreWaiting() throws {
        let journal = try ScratchJournal()
        try journal.append(2500)
        let batches = try drain(batcher(journal, maxRecords: 1000, backlog: 2000))
        #expect(batches.map { $0.firstHostSeq...$0.lastHostSeq } == [1...2000, 2001...2500])
        // 500 waiting records are fewer than the live count: that batch waits for the linger.
        let live = batcher(journal, after: 2000, maxRecords: 1000, backlog: 2000)
        #expect(try live.fill() == nil)
        #expect(live.take()?.count == 500)
    }

    @Test func aBacklogBatchGoesAsSoonAsTheJournalHasNoMore() throws {
        let journal = try ScratchJournal()
        try journal.append(1500)
        let batcher = batcher(journal, maxRecords: 1000, backlog: 10_000)
        let batch = try #require(try batcher.fill())
        #expect(batch.firstHostSeq == 1 && batch.lastHostSeq == 1500)
        #expect(batch.body.split(separator: 0x0A).count == 1500)
    }

    @Test func aBacklogBatchStaysWithinTheByteLimit() throws {
        let journal = try ScratchJournal()
        try journal.append(300, size: 100)
        let batches = try drain(batcher(journal, maxRecords: 10, backlog: 1000, maxBytes: 10_100))
        var next: UInt64 = 1
        for batch in batches {
            #expect(batch.firstHostSeq == next)
            #expect(batch.body.count <= 10_100)
            next = batch.lastHostSeq + 1
        }
        #expect(next == 301)
        #expect(batches.first?.count == 100)
    }

    @Test func theUploadQueueKeepsCutOrderWhateverTheSealThreadsDo() throws {
        let journal = try ScratchJournal()
        try journal.append(400, size: 300)
        let key = try Ed25519PrivateKey()
        let pool = SealPool(sealers: (0..<3).map { _ in BatchSealer(key: key, hostID: "unit-host", level: 5) },
                            log: Logger(component: "test", threshold: .error))
        pool.start()
        defer { pool.stop() }
        let queue = BatchQueue(capacity: 64)
        let batches = try drain(batcher(journal, maxRecords: 7, backlog: 7))
        for batch in batches {
            let ticket = SealTicket(batch)
            #expect(queue.push(ticket))
            pool.submit(ticket)
        }
        var next: UInt64 = 1
        for batch in batches {
            let sealed = try #require(queue.pop()?.wait())
            #expect(sealed.firstHostSeq == next && sealed.lastHostSeq == batch.lastHostSeq)
            #expect(try Zlib.decompress(sealed.compressed, maxOutputBytes: 1 << 20) == batch.body)
            next = sealed.lastHostSeq + 1
        }
        #expect(next == 401)
    }

    @Test func closingTheQueueReleasesAWaitingUploader() throws {
        let journal = try ScratchJournal()
        try journal.append(3)
        let batch = try #require(try drain(batcher(journal, maxRecords: 10, backlog: 10)).first)
        let queue = BatchQueue(capacity: 2)
        let ticket = SealTicket(batch)
        #expect(queue.push(ticket))
        queue.close()
        #expect(ticket.wait() == nil)
        #expect(queue.pop() == nil)
    }
}
