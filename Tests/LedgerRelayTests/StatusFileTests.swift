import Foundation
import LedgerJournal
import LedgerPosix
@testable import LedgerRelay
import Testing

/// The status file is written by every sender thread (state changes) and the main thread
/// (progress). `ledgerctl status` must always find a whole document, and the last write must be
/// the newest state.
@Suite struct StatusFileTests {
    @Test func concurrentWritersNeverLeaveABrokenOrOlderStatusFile() throws {
        let root = try FileSystem.makeTemporaryDirectory(prefix: "lr-status")
        defer { try? FileSystem.removeTree(root) }
        let logPath = root + "/relay.log"
        let logFile = try FileDescriptor.open(logPath, .writeOnly, options: [.create, .truncate], permissions: 0o600)
        defer { try? logFile.close() }
        let board = StatusBoard(path: root + "/" + RelayStatus.fileName, journal: JournalPaths(dataDirectory: root),
                                server: "http://127.0.0.1:1",
                                log: Logger(component: "test", threshold: .info, output: logFile))
        let (threads, writes) = (6, 300)
        final class Counts: @unchecked Sendable {
            let lock = NSLock()
            var reads = 0
            var broken = 0
            var stop = false
        }
        let counts = Counts()
        let reader = Thread {
            while counts.lock.withLock({ !counts.stop }) {
                // A missing file (before the first write) is fine; a document that does not parse is not.
                if let bytes = try? FileSystem.readFile(root + "/" + RelayStatus.fileName, limit: 1 << 20) {
                    let whole = RelayStatus.decode(bytes) != nil
                    counts.lock.withLock {
                        counts.reads += 1
                        if !whole { counts.broken += 1 }
                    }
                }
            }
        }
        reader.start()
        let group = DispatchGroup()
        for _ in 0..<threads {
            group.enter()
            Thread {
                for _ in 0..<writes { board.update(important: true) { $0.batchesSent += 1 } }
                group.leave()
            }.start()
        }
        group.wait()
        counts.lock.withLock { counts.stop = true }
        let log = try String(contentsOfFile: logPath, encoding: .utf8)
        #expect(!log.contains("cannot write the status file"), "\(log.split(separator: "\n").prefix(2))")
        #expect(counts.lock.withLock { counts.broken } == 0, "ledgerctl status would have read a broken document")
        #expect(RelayStatus.read(stateDirectory: root)?.batchesSent == UInt64(threads * writes),
                "the file does not hold the newest state")
        #expect(!FileSystem.exists(root + "/" + RelayStatus.fileName + ".tmp"))
    }
}
