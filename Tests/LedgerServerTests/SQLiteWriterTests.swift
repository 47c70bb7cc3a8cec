import Foundation
import LedgerCore
@testable import LedgerServer
import Testing

@Suite("SQLite writer: a transaction SQLite rolled back by itself")
struct SQLiteWriterTests {
    /// SQLITE_FULL and SQLITE_IOERR make SQLite roll back the whole transaction. A job ending
    /// the transaction itself (ROLLBACK, then failing) does to the group what such an error does:
    /// the jobs after it must not run (a SAVEPOINT outside a transaction commits on its own) and
    /// every job of the group must be reported failed, since none of them was committed.
    @Test func jobsAfterATransactionSQLiteRolledBackAreNotRunAndNothingIsCommitted() throws {
        let path = NSTemporaryDirectory() + "ledger-writer-\(UUID().uuidString).db"
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        let db = try SQLiteConnection(path: path)
        try db.execute("PRAGMA journal_mode=WAL; CREATE TABLE t(v TEXT)")
        let writer = SQLiteWriter(db: db)
        defer { writer.close() }

        let started = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        let group = DispatchGroup()
        let lock = NSLock()
        nonisolated(unsafe) var outcomes: [String: String] = [:]
        func submit(_ name: String, _ work: @escaping (SQLiteTransaction) throws -> Void) {
            group.enter()
            Thread {
                let outcome: String
                do { try writer.perform(work); outcome = "ok" } catch { outcome = "failed: \(error)" }
                lock.lock(); outcomes[name] = outcome; lock.unlock()
                group.leave()
            }.start()
            usleep(150_000)  // queued in this order behind the blocked job
        }
        submit("blocker") { _ in started.signal(); release.wait() }
        started.wait()
        submit("before") { try $0.db.execute("INSERT INTO t VALUES('before')") }
        submit("full") { tx in
            try tx.db.execute("INSERT INTO t VALUES('full')")
            try tx.db.execute("ROLLBACK")  // what SQLITE_FULL does to the transaction
            throw TestFailure("disk full")
        }
        submit("after") { try $0.db.execute("INSERT INTO t VALUES('after')") }
        release.signal()
        group.wait()

        #expect(outcomes["blocker"] == "ok")
        for name in ["before", "full", "after"] {
            #expect(outcomes[name]?.hasPrefix("failed: the store rolled back the transaction, nothing was stored") == true,
                    "\(name): \(outcomes[name] ?? "no outcome")")
        }
        let count = try writer.perform { tx -> Int64 in
            let stmt = try tx.db.statement("SELECT count(*) FROM t")
            _ = try stmt.step()
            return stmt.int(0)
        }
        #expect(count == 0, "a job reported failed was committed")
        // The writer goes on: the next group commits.
        try writer.perform { try $0.db.execute("INSERT INTO t VALUES('later')") }
    }
}
