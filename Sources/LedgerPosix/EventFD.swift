// An eventfd(2) counter for waking an epoll loop from another thread (e.g.
// the journal's fsync thread telling the socket loop that appends are durable).

internal import Glibc

/// A non-blocking, close-on-exec eventfd, closed when the object goes away.
/// Register `descriptor` with `.readable` in an `Epoll`; any thread may call
/// `signal()`, and the loop calls `drain()` when it becomes readable.
public final class EventFD: @unchecked Sendable {
    // @unchecked: the only state is an immutable descriptor, and the kernel
    // makes concurrent eventfd reads and writes atomic.

    /// The eventfd descriptor.
    public let descriptor: FileDescriptor

    public init() throws {
        let flags = LinuxCalls.EFD_CLOEXEC | LinuxCalls.EFD_NONBLOCK
        descriptor = FileDescriptor(rawValue: try syscall("eventfd") { LinuxCalls.eventfd(0, flags) })
    }

    deinit {
        try? descriptor.close()
    }

    /// Adds 1 to the counter, making the descriptor readable. Many signals before
    /// a drain coalesce into one wake-up.
    public func signal() throws {
        var one: UInt64 = 1
        // EAGAIN means the counter is at its maximum: the loop is already due to wake.
        _ = try withUnsafeBytes(of: &one) { try descriptor.tryWrite($0) }
    }

    /// Reads and resets the counter: the number of signals since the last
    /// drain, 0 if none.
    @discardableResult
    public func drain() throws -> UInt64 {
        var count: UInt64 = 0
        let n = try withUnsafeMutableBytes(of: &count) { try descriptor.tryRead(into: $0) }
        return n == nil ? 0 : count
    }
}
