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

    init(db: SQLiteConnection, checkpointer: SQLiteCheckpointer? = nil) {
        self.db = db
        self.checkpointer = checkpointer
        let thread = Thread { [unowned self] in self.loop() }
        thread.name = "sqlite-writer"
        self.thread = thread
        thread.start()
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

    private func runTransaction(_ jobs: [Job]) {
        let started = DispatchTime.now().uptimeNanoseconds
        let tx = SQLiteTransaction(db: db)
        do {
            try db.execute("BEGIN IMMEDIATE")
        } catch {
            for job in jobs { job.result = .failure(error); job.done.signal() }
            return
        }
        for job in jobs {
            do {
                try db.execute("SAVEPOINT job")
                job.result = .success(try job.work(tx))
                try db.execute("RELEASE job")
            } catch {
                job.result = .failure(error)
                try? db.execute("ROLLBACK TO job")
                try? db.execute("RELEASE job")
            }
        }
        db.resetAll()
        do {
            try db.execute("COMMIT")
        } catch {
            try? db.execute("ROLLBACK")
            for job in jobs { job.result = .failure(error) }
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        checkpointer?.committed()
        onCommit?(jobs.count, seconds)
        for job in jobs { job.done.signal() }
    }
}
