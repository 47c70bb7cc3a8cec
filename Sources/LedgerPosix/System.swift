// LedgerPosix: the one place in Ledger that talks to the kernel.
//
// Every system call goes through `syscall(_:_:)` below. It reads errno
// immediately after the call (before anything else can overwrite it), retries
// EINTR, and throws `IOError`, so callers never see raw return codes or errno.
// The shape follows swift-nio's Sources/NIOPosix/System.swift.
//
// No C type appears in a public signature: Glibc is an `internal import`, and
// descriptors, events and modes are Swift types (`FileDescriptor`,
// `EpollEvents`, `UInt32` permission bits).

internal import Glibc

/// A failed system call: the `errno` it set and what we were doing at the time.
///
/// `description` reads like `open(/var/lib/ledger/x): Permission denied (errno 13)`,
/// so it can go to an operator as is.
public struct IOError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The `errno` value the call set.
    public let errno: Int32
    /// The call and its main argument, e.g. `open(/var/lib/ledger/x)` or `fdatasync(fd 7)`.
    public let reason: String

    public init(errno: Int32, reason: String) {
        self.errno = errno
        self.reason = reason
    }

    /// `errno` as a typed value, for comparisons like `error.code == .wouldBlock`.
    public var code: Errno { Errno(rawValue: errno) }

    public var description: String {
        "\(reason): \(Errno.message(for: errno)) (errno \(errno))"
    }
}

/// An `errno` value, with names for the ones Ledger reacts to.
public struct Errno: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    public static let notPermitted = Errno(rawValue: EPERM)
    public static let noSuchFile = Errno(rawValue: ENOENT)
    public static let interrupted = Errno(rawValue: EINTR)
    public static let ioError = Errno(rawValue: EIO)
    public static let badDescriptor = Errno(rawValue: EBADF)
    public static let wouldBlock = Errno(rawValue: EAGAIN)
    public static let permissionDenied = Errno(rawValue: EACCES)
    public static let exists = Errno(rawValue: EEXIST)
    public static let notDirectory = Errno(rawValue: ENOTDIR)
    public static let isDirectory = Errno(rawValue: EISDIR)
    public static let invalidArgument = Errno(rawValue: EINVAL)
    public static let tooManyOpenFiles = Errno(rawValue: EMFILE)
    public static let fileTooLarge = Errno(rawValue: EFBIG)
    public static let noSpace = Errno(rawValue: ENOSPC)
    public static let brokenPipe = Errno(rawValue: EPIPE)
    public static let notEmpty = Errno(rawValue: ENOTEMPTY)
    public static let addressInUse = Errno(rawValue: EADDRINUSE)
    public static let connectionReset = Errno(rawValue: ECONNRESET)
    public static let connectionRefused = Errno(rawValue: ECONNREFUSED)

    /// The C library's text for this value, e.g. "No such file or directory".
    public var description: String { Errno.message(for: rawValue) }

    /// The C library's text for an errno value (thread-safe `strerror_r`).
    public static func message(for errno: Int32) -> String {
        // Glibc imports the XSI strerror_r (returns Int32) because Swift builds it
        // without _GNU_SOURCE; it fills our buffer instead of a shared static one.
        var buffer = [CChar](repeating: 0, count: 256)
        let rc = strerror_r(errno, &buffer, buffer.count)
        guard rc == 0 else { return "Unknown error \(errno)" }
        return String(cString: buffer)
    }
}

/// Runs one system call: `body` returns the C result (-1 on failure).
///
/// errno is read at once, EINTR is retried, and any other failure is thrown as
/// `IOError(errno:reason:)`. `reason` is only evaluated on failure, so building
/// a message with a path costs nothing on the fast path. Prefer the typed
/// wrappers (`FileDescriptor`, `FileSystem`, ...); this is public for the rare
/// call that has none yet, and such a call should then get a wrapper here.
@discardableResult
public func syscall<T: FixedWidthInteger & SignedInteger>(
    _ reason: @autoclosure () -> String, _ body: () throws -> T
) throws -> T {
    while true {
        let result = try body()
        guard result == -1 else { return result }
        // Read errno before anything else runs: a deallocation or another libc
        // call between the failing call and here could overwrite it.
        let err = errno
        if err == EINTR { continue }
        throw IOError(errno: err, reason: reason())
    }
}

/// Like `syscall(_:_:)` for non-blocking descriptors: returns nil instead of
/// throwing when the call would block (EAGAIN/EWOULDBLOCK).
public func syscallUnlessWouldBlock<T: FixedWidthInteger & SignedInteger>(
    _ reason: @autoclosure () -> String, _ body: () throws -> T
) throws -> T? {
    while true {
        let result = try body()
        guard result == -1 else { return result }
        let err = errno
        if err == EINTR { continue }
        if err == EAGAIN || err == EWOULDBLOCK { return nil }
        throw IOError(errno: err, reason: reason())
    }
}

/// The process environment, read without Foundation.
///
/// getenv/setenv are not thread-safe with respect to each other: read and
/// change the environment at startup, before starting threads.
public enum Environment {
    /// A snapshot of all variables. A name set twice keeps its first value, as getenv does.
    public static func current() -> [String: String] {
        var result: [String: String] = [:]
        // SAFETY: `environ` is a NULL-terminated array of NUL-terminated C strings
        // owned by libc; each is copied out before moving on.
        var cursor = environ
        while let entry = cursor.pointee {
            let text = String(cString: entry)
            if let eq = text.firstIndex(of: "=") {
                let name = String(text[..<eq])
                if result[name] == nil { result[name] = String(text[text.index(after: eq)...]) }
            }
            cursor += 1
        }
        return result
    }

    /// One variable, or nil when unset.
    public static func get(_ name: String) -> String? {
        guard let value = getenv(name) else { return nil }
        return String(cString: value)
    }

    /// Removes a variable (no-op when unset).
    public static func unset(_ name: String) {
        unsetenv(name)
    }
}
