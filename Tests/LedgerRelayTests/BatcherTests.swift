import LedgerCore
import LedgerJournal
import LedgerPosix
@testable import LedgerRelay
import Testing

/// A journal written with the real JournalWriter; records are opaque bytes to the batcher.
final class ScratchJournal {
    let root: String
    let writer: JournalWriter
    let paths: JournalPaths

    init() throws {
        root = try FileSystem.makeTemporaryDirectory(prefix: "lr-unit")
        paths = JournalPaths(dataDirectory: root + "/data")
        let report = try JournalRecovery.recover(paths: paths, hostID: "unit-host", log: Logger(component: "test", threshold: .error))
        writer = try JournalWriter(paths: paths, hostID: "unit-host", recovered: report)
    }

    deinit { try? FileSystem.removeTree(root) }

    /// Appends `count` records of `size` bytes; durable only when `sync`.
    func append(_ count: Int, size: Int = 100, sync: Bool = true) throws {
        var frames: [UInt8] = []
        let first = writer.lastHostSeq + 1
        for index in 0..<count {
            let hostSeq = first + UInt64(index)
            var record = Array("{\"n\":\(hostSeq)}".utf8)
            if record.count < size { record += [UInt8](repeating: 0x20, count: size - record.count) }
            record.withUnsafeBytes { JournalFrame.append(record: $0, hostSeq: hostSeq, into: &frames) }
        }
        try frames.withUnsafeBytes { try writer.append($0, first: first, last: first + UInt64(count) - 1) }
        if sync { try writer.sync() }
    }

    func batcher(after: UInt64 = 0, maxRecords: Int = 1000, maxBytes: Int = 4 << 20) -> Batcher {
        Batcher(reader: JournalReader(dataDirectory: paths.dataDirectory), after: after, maxRecords: maxRecords,
                maxBytes: maxBytes, log: Logger(component: "test", threshold: .error))
    }
}

/// Every batch the batcher hands out until the journal has nothing more durable.
func drain(_ batcher: Batcher) throws -> [PendingBatch] {
    var batches: [PendingBatch] = []
    while true {
        if let full = try batcher.fill() { batches.append(full); continue }
        guard let partial = batcher.take() else { return batches }
        batches.append(partial)
    }
}

@Suite struct BatcherTests {
    @Test func batcherNeverReadsPastTheDurableCheckpoint() throws {
        let journal = try ScratchJournal()
        try journal.append(10)
        try journal.append(5, sync: false)
        let batches = try drain(journal.batcher())
        #expect(batches.map(\.firstHostSeq) == [1])
        #expect(batches.map(\.lastHostSeq) == [10])
        try journal.writer.sync()
        let batcher = journal.batcher(after: 10)
        #expect(try drain(batcher).map { $0.firstHostSeq...$0.lastHostSeq } == [11...15])
    }

    @Test func batchesAreContiguousRangesCutAtTheRecordCount() throws {
        let journal = try ScratchJournal()
        try journal.append(2500)
        let batches = try drain(journal.batcher(maxRecords: 1000))
        #expect(batches.map { $0.firstHostSeq...$0.lastHostSeq } == [1...1000, 1001...2000, 2001...2500])
        #expect(batches.map(\.count) == [1000, 1000, 500])
        for batch in batches {
            let lines = batch.body.split(separator: 0x0A)
            #expect(lines.count == batch.count)
            #expect(batch.body.last == 0x0A)
            #expect(String(decoding: lines.first!.prefix(12), as: UTF8.self).hasPrefix("{\"n\":\(batch.firstHostSeq)}"))
        }
    }

    @Test func batchesStayWithinTheByteLimitAndALargerRecordGoesAlone() throws {
        let journal = try ScratchJournal()
        try journal.append(30, size: 100)
        try journal.append(1, size: 5000)
        try journal.append(5, size: 100)
        let batches = try drain(journal.batcher(maxBytes: 1024))
        var next: UInt64 = 1
        for batch in batches {
            #expect(batch.firstHostSeq == next)
            next = batch.lastHostSeq + 1
            #expect(batch.body.count <= 1024 || batch.count == 1)
        }
        #expect(next == 37)
        #expect(batches.contains { $0.firstHostSeq == 31 && $0.count == 1 })
    }

    @Test func aRestartResumesExactlyAfterTheCursor() throws {
        let journal = try ScratchJournal()
        try journal.append(1234)
        let batches = try drain(journal.batcher(after: 1000, maxRecords: 100))
        #expect(batches.first?.firstHostSeq == 1001)
        #expect(batches.last?.lastHostSeq == 1234)
        #expect(batches.reduce(0) { $0 + $1.count } == 234)
        // Each declares the range before it: the cursor for the first, then the previous batch.
        #expect(batches.map(\.predecessorHostSeq) == [1000] + batches.dropLast().map(\.lastHostSeq))
    }

    @Test func sealedBatchVerifiesWithTheHostKeyAndDecompressesToTheBody() throws {
        let journal = try ScratchJournal()
        try journal.append(50)
        let batch = try #require(try drain(journal.batcher()).first)
        let key = try Ed25519PrivateKey()
        let sealed = try BatchSealer(key: key, hostID: "unit-host", level: 6).seal(batch)
        let body = try Zlib.decompress(sealed.compressed, maxOutputBytes: 1 << 20)
        #expect(body == batch.body)
        #expect(sealed.bodySHA256 == SHA256Hasher().hash(body).hex)
        // The v2 message: the declared predecessor (0, nothing before host_seq 1) is signed too.
        #expect(sealed.predecessorHostSeq == 0)
        let message = RelayBatch.signingMessage(hostID: "unit-host", batchSeq: 1, predecessorHostSeq: 0,
                                                bodySHA256: SHA256Hasher().hash(body))
        let signature = try Base64.decode(sealed.signature, byteCount: 64, what: "signature")
        #expect(key.publicKey.isValidSignature(signature, for: message))
        let withoutPredecessor = RelayBatch.signingMessage(hostID: "unit-host", batchSeq: 1,
                                                           bodySHA256: SHA256Hasher().hash(body))
        #expect(!key.publicKey.isValidSignature(signature, for: withoutPredecessor))
    }
}
