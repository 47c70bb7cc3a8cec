import Foundation

// A fixed-size pool of PostgreSQL connections (`--database-pool`), each used by one
// thread at a time.
//
// Reconnection: a connection that reports a lost link is dropped, never reused. A new
// one is opened on demand; when opening fails, further attempts wait out a backoff
// (0.1 s doubling to 5 s) and callers meanwhile get `StoreError.unavailable` at once
// (HTTP 503, which the relay retries) instead of queueing behind a dead database.

final class PostgresPool: @unchecked Sendable {
    let url: String
    let size: Int
    private let condition = NSCondition()
    // Guarded by `condition`.
    private var idle: [PostgresConnection] = []
    private var open = 0
    private var closed = false
    private var retryAt: Double = 0
    private var backoff: Double = 0

    init(url: String, size: Int) {
        self.url = url
        self.size = max(1, size)
    }

    /// Runs `body` on a pooled connection. A connection-level failure drops the connection
    /// and is rethrown as `StoreError.unavailable`. With `retryOnStaleConnection`, `body` runs once
    /// more on a new connection after such a failure (an idle connection that died with a database
    /// restart), so `body` must then be idempotent (reads).
    func with<T>(retryOnStaleConnection: Bool = true, _ body: (PostgresConnection) throws -> T) throws -> T {
        var attempts = retryOnStaleConnection ? 2 : 1
        while true {
            attempts -= 1
            let connection = try checkOut()
            do {
                let result = try body(connection)
                checkIn(connection)
                return result
            } catch let error as PostgresError where error.isUnavailable {
                // An idle connection may have died with a database restart: try once on a new one.
                discard(connection)
                if attempts > 0 { continue }
                throw StoreError.unavailable(error.description)
            } catch {
                if connection.isHealthy { checkIn(connection) } else { discard(connection) }
                throw error
            }
        }
    }

    /// A connection for the caller alone until `checkIn` or `discard` (a snapshot held across reads).
    func checkOut() throws -> PostgresConnection {
        condition.lock()
        while idle.isEmpty && open >= size && !closed { condition.wait() }
        if closed {
            condition.unlock()
            throw StoreError.closed
        }
        if let connection = idle.popLast() {
            condition.unlock()
            return connection
        }
        let now = Self.now()
        if now < retryAt {
            condition.unlock()
            throw StoreError.unavailable("the database is unreachable; next connection attempt in "
                                         + String(format: "%.1f s", retryAt - now))
        }
        open += 1
        condition.unlock()
        do {
            let connection = try PostgresConnection(url: url)
            condition.lock()
            backoff = 0
            retryAt = 0
            condition.unlock()
            return connection
        } catch {
            condition.lock()
            open -= 1
            backoff = backoff == 0 ? 0.1 : min(backoff * 2, 5)
            retryAt = Self.now() + backoff
            condition.signal()
            condition.unlock()
            throw StoreError.unavailable("\(error)")
        }
    }

    func checkIn(_ connection: PostgresConnection) {
        condition.lock()
        if closed { open -= 1 } else { idle.append(connection) }
        condition.signal()
        condition.unlock()
    }

    func discard(_ connection: PostgresConnection) {
        condition.lock()
        open -= 1
        condition.signal()
        condition.unlock()
    }

    /// Closes idle connections; connections in use are closed when handed back.
    func close() {
        condition.lock()
        closed = true
        open -= idle.count
        idle.removeAll()
        condition.broadcast()
        condition.unlock()
    }

    private static func now() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }
}
