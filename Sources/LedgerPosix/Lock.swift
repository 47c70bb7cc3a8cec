// A pthread mutex in an owner class: Synchronization.Mutex needs macOS 15,
// above the package's minimum, and we want the same lock on every platform.

internal import Glibc

/// A non-recursive mutual-exclusion lock.
public final class Lock: @unchecked Sendable {
    // @unchecked: the mutex is the synchronization; it lives at a stable heap
    // address (pthread mutexes must not move) and is only touched via pthread calls.
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>

    public init() {
        mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        let rc = pthread_mutex_init(mutex, nil)
        precondition(rc == 0, "pthread_mutex_init failed: \(Errno.message(for: rc))")
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deinitialize(count: 1)
        mutex.deallocate()
    }

    /// Runs `body` while holding the lock.
    public func withLock<R>(_ body: () throws -> R) rethrows -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }
}
