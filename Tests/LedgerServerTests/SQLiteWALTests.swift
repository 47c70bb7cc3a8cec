import Foundation
import LedgerCore
@testable import LedgerServer
import Testing

@Suite("SQLite store: the WAL rewinds under continuous ingest")
struct SQLiteWALTests {
    /// Without the writer finishing checkpoints itself, a writer that never pauses keeps the
    /// WAL growing by every byte ingested (SQLiteWriter.finishCheckpointIfLong explains why
    /// that costs). With a 64-frame threshold the WAL must stay a small multiple of it.
    @Test func walStaysBoundedWhileBatchesKeepComing() throws {
        let directory = NSTemporaryDirectory() + "ledger-wal-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try SQLiteStore(directory: directory, walResetFrames: 64)
        defer { store.close() }
        // Four hosts sending at once keep the writer busy, as ingest under load does: a
        // background checkpoint then never finds the WAL quiet.
        let hosts = try (0..<4).map { SimulatedHost(hostID: "wal-host-\($0)", key: try Ed25519PrivateKey()) }
        for host in hosts { try store.addHost(id: host.hostID, publicKey: host.key.publicKey.base64) }
        let lock = NSLock()
        nonisolated(unsafe) var ingested = 0
        nonisolated(unsafe) var largestWAL = 0
        nonisolated(unsafe) var failures: [String] = []
        DispatchQueue.concurrentPerform(iterations: hosts.count) { hostIndex in
            let host = hosts[hostIndex]
            let reader = RecordReader()
            for batchIndex in 0..<15 {
                let first = UInt64(batchIndex * 100 + 1)
                let body = RelayBatch.body(lines: host.records(100, padding: 600))
                var rows = IngestRows(body: body)
                do {
                    try body.withUnsafeBytes { bytes in
                        try RelayBatch.readBody(bytes, hostID: host.hostID, batchSeq: first, reader: reader) { line, facts in
                            rows.appendLine(start: line.baseAddress! - bytes.baseAddress!, count: line.count, facts: facts)
                        }
                    }
                    let batch = VerifiedRelayBatch(hostID: host.hostID, batchSeq: first,
                                                   bodySHA256: SHA256Hasher().hash(body), rows: rows, receivedAtMicros: 1)
                    let outcome = try store.appendRelayBatch(batch)
                    let wal = (try? FileManager.default.attributesOfItem(atPath: store.path + "-wal")[.size] as? Int) ?? 0
                    lock.lock()
                    if case .stored(records: 100, replayed: 0, incidents: []) = outcome {} else {
                        failures.append("\(host.hostID) batch \(batchIndex): \(outcome)")
                    }
                    ingested += body.count
                    largestWAL = max(largestWAL, wal)
                    lock.unlock()
                } catch {
                    lock.lock()
                    failures.append("\(host.hostID) batch \(batchIndex): \(error)")
                    lock.unlock()
                }
            }
        }
        #expect(failures.isEmpty, "\(failures)")
        // 60 batches × ~100 KB went through the WAL; one batch is ~25 frames, so a WAL that
        // rewinds past 64 frames needs a few hundred at most (a commit holds several batches).
        #expect(ingested > 5_000_000)
        #expect(largestWAL < 2_000_000, "largest WAL \(largestWAL) bytes for \(ingested) bytes ingested")
    }
}
