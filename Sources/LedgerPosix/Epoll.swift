// A thin, typed epoll(7) wrapper for the daemon's socket loop.
//
// Each registration carries a caller-chosen 64-bit token (epoll_data.u64),
// typically a connection id, returned with each readiness event. `wait` fills a
// buffer allocated once, so a busy loop allocates nothing per iteration.

internal import Glibc

/// Readiness conditions, the EPOLL* bits from <sys/epoll.h>.
public struct EpollEvents: OptionSet, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// EPOLLIN: data to read, a pending connection, or end of file.
    public static let readable = EpollEvents(rawValue: 0x001)
    /// EPOLLOUT: a write would not block.
    public static let writable = EpollEvents(rawValue: 0x004)
    /// EPOLLERR: an error is pending. Always reported; no need to ask for it.
    public static let error = EpollEvents(rawValue: 0x008)
    /// EPOLLHUP: both directions closed. Always reported; no need to ask for it.
    public static let hangup = EpollEvents(rawValue: 0x010)
    /// EPOLLRDHUP: the peer shut down its writing side (the client is done sending).
    public static let readHangup = EpollEvents(rawValue: 0x2000)
    /// EPOLLONESHOT: report once, then disarm until `modify`.
    public static let oneShot = EpollEvents(rawValue: 1 << 30)
    /// EPOLLET: report changes only; the handler must read or write until EAGAIN.
    public static let edgeTriggered = EpollEvents(rawValue: 1 << 31)

    public var description: String {
        let names: [(EpollEvents, String)] = [
            (.readable, "readable"), (.writable, "writable"), (.error, "error"), (.hangup, "hangup"),
            (.readHangup, "readHangup"), (.oneShot, "oneShot"), (.edgeTriggered, "edgeTriggered"),
        ]
        return "[" + names.filter { contains($0.0) }.map(\.1).joined(separator: ", ") + "]"
    }
}

/// One readiness report: the token given at registration and what is ready.
public struct EpollEvent: Hashable, Sendable {
    public let token: UInt64
    public let events: EpollEvents

    public init(token: UInt64, events: EpollEvents) {
        self.token = token
        self.events = events
    }
}

/// An epoll instance, closed when the object goes away. Use from one thread:
/// `wait` reuses one buffer and is not reentrant. To wake a waiting loop from
/// another thread, register an `EventFD` and call its `signal()`.
public final class Epoll {
    /// The epoll descriptor itself (close-on-exec).
    public let descriptor: FileDescriptor
    private let capacity: Int
    private let buffer: UnsafeMutableRawPointer

    /// epoll_create1(EPOLL_CLOEXEC). `maxEventsPerWait` bounds how many events
    /// one `wait` returns; more stay queued for the next call.
    public init(maxEventsPerWait: Int = 64) throws {
        precondition(maxEventsPerWait > 0 && maxEventsPerWait <= 1 << 16, "maxEventsPerWait out of range")
        descriptor = FileDescriptor(
            rawValue: try syscall("epoll_create1") { LinuxCalls.epollCreate1(LinuxCalls.EPOLL_CLOEXEC) })
        capacity = maxEventsPerWait
        buffer = UnsafeMutableRawPointer.allocate(
            byteCount: capacity * LinuxCalls.epollEventStride, alignment: MemoryLayout<UInt64>.alignment)
    }

    deinit {
        buffer.deallocate()
        try? descriptor.close()
    }

    /// Starts watching `fd` for `events`; readiness is reported with `token`
    /// (default: the descriptor number).
    public func add(_ fd: FileDescriptor, events: EpollEvents, token: UInt64? = nil) throws {
        try control(LinuxCalls.EPOLL_CTL_ADD, "add", fd, events, token ?? UInt64(fd.rawValue))
    }

    /// Changes the events (and token) of a watched descriptor, e.g. adding
    /// `.writable` while a response is queued and dropping it once sent.
    public func modify(_ fd: FileDescriptor, events: EpollEvents, token: UInt64? = nil) throws {
        try control(LinuxCalls.EPOLL_CTL_MOD, "modify", fd, events, token ?? UInt64(fd.rawValue))
    }

    /// Stops watching `fd`. Closing a descriptor also removes it, unless it was
    /// duplicated; delete first when in doubt.
    public func delete(_ fd: FileDescriptor) throws {
        try syscall("epoll_ctl(\(descriptor), delete, \(fd))") {
            LinuxCalls.epollCtl(descriptor.rawValue, LinuxCalls.EPOLL_CTL_DEL, fd.rawValue, nil)
        }
    }

    /// Waits up to `timeout` (nil: forever; zero: poll) and calls `body` once per
    /// ready descriptor. Returns the number of events; 0 on timeout or when a
    /// signal interrupted the wait, so the caller can recompute its deadline.
    /// If `body` throws, the rest of this batch is dropped; edge-triggered
    /// descriptors would then not be reported again, so handle per-connection
    /// errors inside `body` and throw only to abandon the loop.
    @discardableResult
    public func wait(timeout: Duration? = nil, _ body: (EpollEvent) throws -> Void) throws -> Int {
        let milliseconds = timeout.map(Epoll.milliseconds(roundingUp:)) ?? -1
        let count = LinuxCalls.epollWait(descriptor.rawValue, buffer, Int32(capacity), milliseconds)
        if count == -1 {
            let err = errno
            if err == EINTR { return 0 }
            throw IOError(errno: err, reason: "epoll_wait(\(descriptor))")
        }
        for index in 0..<Int(count) {
            // SAFETY: the kernel filled `count` <= capacity entries of
            // epollEventStride bytes; the x86_64 layout is packed, hence unaligned loads.
            let entry = UnsafeRawPointer(buffer + index * LinuxCalls.epollEventStride)
            let events = entry.loadUnaligned(as: UInt32.self)
            let token = entry.loadUnaligned(fromByteOffset: LinuxCalls.epollEventDataOffset, as: UInt64.self)
            try body(EpollEvent(token: token, events: EpollEvents(rawValue: events)))
        }
        return Int(count)
    }

    private func control(_ op: Int32, _ name: String, _ fd: FileDescriptor, _ events: EpollEvents, _ token: UInt64) throws {
        var event = [UInt8](repeating: 0, count: LinuxCalls.epollEventStride)
        event.withUnsafeMutableBytes { raw in
            raw.storeBytes(of: events.rawValue, toByteOffset: 0, as: UInt32.self)
            raw.storeBytes(of: token, toByteOffset: LinuxCalls.epollEventDataOffset, as: UInt64.self)
        }
        try event.withUnsafeMutableBytes { raw in
            // SAFETY: raw is one struct epoll_event laid out as LinuxCalls describes.
            _ = try syscall("epoll_ctl(\(descriptor), \(name), \(fd))") {
                LinuxCalls.epollCtl(descriptor.rawValue, op, fd.rawValue, raw.baseAddress)
            }
        }
    }

    /// epoll_wait takes whole milliseconds; round up so a short timeout does not
    /// become a busy poll, and cap at Int32.max (about 24 days).
    static func milliseconds(roundingUp duration: Duration) -> Int32 {
        let (seconds, attoseconds) = duration.components
        if seconds < 0 || (seconds == 0 && attoseconds <= 0) { return 0 }
        let perMillisecond: Int64 = 1_000_000_000_000_000
        let fraction = (attoseconds + perMillisecond - 1) / perMillisecond
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1000)
        guard !overflow, scaled + fraction < Int64(Int32.max) else { return Int32.max }
        return Int32(scaled + fraction)
    }
}
