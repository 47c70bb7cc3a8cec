internal import CSQLite
import Foundation

// One writer connection, one writer thread, group commit.
//
// Request threads hand a job in and wait. The writer takes every job waiting,
// opens one transaction, runs each job inside its own SAVEPOINT (a job that
// throws is rolled back alone: each batch stays all-or-nothing), commits once
// (one fsync for all of them under synchronous=FULL), then wakes every caller.
// A caller's answer therefore never precedes the COMMIT that made it durable.

final class SQLiteWriter: @unchecked Sendable {
    private final class Job {
        let work: (SQLiteTransaction) throws -> Any
        var result: Result<Any, Error>?
        let done = DispatchSemaphore(value: 0)
        init(_ work: @escaping (SQLiteTransaction) throws -> Any) { self.work = work }
    }

    private let db: SQLiteConnection
    private let condition = NSCondition()
    // Guarded by `condition`.
    private var pending: [Job] = []
    private var closed = false
    private var thread: Thread?
    private let finished = DispatchSemaphore(value: 0)
    /// Jobs per transaction are capped so one commit does not hold callers too long.
    var maxJobsPerTransaction = 256
    /// Called on the writer thread after a commit with the number of jobs and the seconds it took.
    var onCommit: ((Int, Double) -> Void)?

    private let checkpointer: SQLiteCheckpointer?
    /// Frames in the WAL after the last commit, set by SQLite's WAL hook on the writer thread.
    private let walFrames = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
    /// WAL length (in frames) past which the writer finishes the background checkpoint itself.
    var walResetFrames: Int32 = 8192

    init(db: SQLiteConnection, checkpointer: SQLiteCheckpointer? = nil) {
        self.db = db
        self.checkpointer = checkpointer
        walFrames.initialize(to: 0)
        // The hook replaces SQLite's own autocheckpoint hook, which the store has turned off anyway.
        sqlite3_wal_hook(db.handle, { context, _, _, frames in
            context!.assumingMemoryBound(to: Int32.self).pointee = frames
            return SQLITE_OK
        }, UnsafeMutableRawPointer(walFrames))
        let thread = Thread { [unowned self] in self.loop() }
        thread.name = "sqlite-writer"
        self.thread = thread
        thread.start()
    }

    deinit {
        sqlite3_wal_hook(db.handle, nil, nil)
        walFrames.deallocate()
    }

    /// Runs `work` in a transaction on the writer thread; returns once it is committed.
    func perform<T>(_ work: @escaping (SQLiteTransaction) throws -> T) throws -> T {
        let job = Job { try work($0) }
        condition.lock()
        if closed {
            condition.unlock()
            throw StoreError.closed
        }
        pending.append(job)
        condition.signal()
        condition.unlock()
        job.done.wait()
        return try job.result!.get() as! T
    }

    /// Runs the jobs already handed in, then stops the thread.
    func close() {
        condition.lock()
        let wasClosed = closed
        closed = true
        condition.signal()
        condition.unlock()
        if !wasClosed { finished.wait() }
    }

    private func loop() {
        // Set from inside the thread so that Foundation also gives the kernel the name (top -H, perf).
        Thread.current.name = "sqlite-writer"
        while true {
            condition.lock()
            while pending.isEmpty && !closed { condition.wait() }
            if pending.isEmpty && closed {
                condition.unlock()
                finished.signal()
                return
            }
            let count = min(pending.count, maxJobsPerTransaction)
            let jobs = Array(pending.prefix(count))
            pending.removeFirst(count)
            condition.unlock()
            runTransaction(jobs)
        }
    }

    // Why the writer checkpoints at all, when SQLiteCheckpointer does the bulk of it in the
    // background: SQLite rewinds the WAL to its start only when a write transaction begins
    // after a checkpoint that copied every frame. Under continuous ingest the background
    // checkpoint never catches the writer, so the WAL grows without end, and appending to a
    // growing file costs the kernel far more than overwriting one: every new page is
    // allocated and zero-filled first (perf on ingest: a third of the writer's CPU was
    // ext4_block_write_begin → memset). Here, once the WAL is long, the writer copies the
    // few frames the background checkpoint has not reached yet, between transactions, so
    // the next transaction rewinds the WAL and writes over pages the kernel already has.
    // A PASSIVE checkpoint never waits: if the background one holds the lock, or a reader
    // still needs old frames, this returns at once and the next commit tries again.
    private func finishCheckpointIfLong() {
        guard walFrames.pointee >= walResetFrames else { return }
        var logFrames: Int32 = 0
        var copied: Int32 = 0
        let rc = sqlite3_wal_checkpoint_v2(db.handle, nil, SQLITE_CHECKPOINT_PASSIVE, &logFrames, &copied)
        if rc == SQLITE_OK, logFrames == copied { walFrames.pointee = 0 }
    }

    private func runTransaction(_ jobs: [Job]) {
        let started = DispatchTime.now().uptimeNanoseconds
        let tx = SQLiteTransaction(db: db)
        do {
            try db.execute("BEGIN IMMEDIATE")
        } catch {
            for job in jobs { job.result = .failure(error); job.done.signal() }
            return
        }
        var lost: Error?
        for job in jobs {
            do {
                try db.execute("SAVEPOINT job")
                job.result = .success(try job.work(tx))
                try db.execute("RELEASE job")
            } catch {
                job.result = .failure(error)
                // Some errors (SQLITE_FULL, SQLITE_IOERR, SQLITE_NOMEM …) make SQLite roll back
                // the whole transaction, the jobs before this one included. A SAVEPOINT outside
                // a transaction starts one of its own and its RELEASE commits it: the next job
                // would be committed on its own, then COMMIT would fail and report it failed.
                if sqlite3_get_autocommit(db.handle) != 0 {
                    lost = error
                    break
                }
                try? db.execute("ROLLBACK TO job")
                try? db.execute("RELEASE job")
            }
        }
        db.resetAll()
        if let lost {
            // Nothing of this transaction was committed: every job fails, those not run included.
            for job in jobs { job.result = .failure(StoreError.transactionLost("\(lost)")) }
        } else {
            do {
                try db.execute("COMMIT")
            } catch {
                try? db.execute("ROLLBACK")
                for job in jobs { job.result = .failure(error) }
            }
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        checkpointer?.committed()
        if checkpointer != nil { finishCheckpointIfLong() }
        onCommit?(jobs.count, seconds)
        for job in jobs { job.done.signal() }
    }
}
