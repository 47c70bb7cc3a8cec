import Foundation

// WAL checkpoints on their own thread and connection.
//
// With SQLite's automatic checkpoint, the connection whose COMMIT pushes the WAL past the
// threshold copies the whole WAL into the database file and fsyncs it before COMMIT returns:
// on our single writer thread that is a stall of every caller waiting for the next group
// commit, and CPU spent on the one serial stage of ingest. Here the writer connection has
// wal_autocheckpoint=0 and this thread runs PASSIVE checkpoints (they never block the writer
// or readers) shortly after commits. Durability is unchanged: a commit is durable once its WAL
// frames are fsynced (synchronous=FULL); checkpoints only move pages into the main file.
//
// A PASSIVE checkpoint cannot finish while a reader holds an old snapshot; if the WAL file
// still grows past `restartBytes`, a RESTART checkpoint waits for those readers (the writer
// waits too, through its busy timeout) so the WAL cannot grow without bound.

final class SQLiteCheckpointer: @unchecked Sendable {
    private let db: SQLiteConnection
    private let walPath: String
    private let condition = NSCondition()
    // Guarded by `condition`.
    private var commitsSinceCheckpoint = 0
    private var closed = false
    private let finished = DispatchSemaphore(value: 0)
    /// Seconds between checkpoints while commits keep coming.
    let interval: Double
    /// WAL size beyond which a RESTART checkpoint (which waits for readers) is run.
    let restartBytes: Int

    init(path: String, interval: Double = 0.5, restartBytes: Int = 1 << 30) throws {
        db = try SQLiteConnection(path: path)
        walPath = path + "-wal"
        self.interval = interval
        self.restartBytes = restartBytes
        let thread = Thread { [unowned self] in self.loop() }
        thread.name = "sqlite-checkpoint"
        thread.start()
    }

    /// Called by the writer after each commit.
    func committed() {
        condition.lock()
        commitsSinceCheckpoint += 1
        if commitsSinceCheckpoint == 1 { condition.signal() }
        condition.unlock()
    }

    /// Runs a last checkpoint and stops the thread.
    func close() {
        condition.lock()
        let wasClosed = closed
        closed = true
        condition.signal()
        condition.unlock()
        if !wasClosed { finished.wait() }
    }

    private func loop() {
        Thread.current.name = "sqlite-ckpt"
        while true {
            condition.lock()
            while commitsSinceCheckpoint == 0 && !closed { condition.wait() }
            let stop = closed
            commitsSinceCheckpoint = 0
            condition.unlock()
            checkpoint()
            if stop {
                finished.signal()
                return
            }
            // Let commits accumulate: one checkpoint per interval, not one per commit.
            condition.lock()
            _ = condition.wait(until: Date().addingTimeInterval(interval))
            condition.unlock()
        }
    }

    private func checkpoint() {
        let size = (try? FileManager.default.attributesOfItem(atPath: walPath)[.size] as? Int) ?? 0
        let mode = size > restartBytes ? "RESTART" : "PASSIVE"
        // A failed checkpoint loses nothing (the WAL keeps the frames); the next one retries.
        try? db.execute("PRAGMA wal_checkpoint(\(mode))")
    }
}
