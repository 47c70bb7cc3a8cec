// A file descriptor and the calls the journal and the socket server make on it.
//
// Every descriptor this module opens is close-on-exec, so a child process
// (none today, but tests spawn programs) never inherits a journal segment or a
// client connection.

internal import Glibc

/// An open file descriptor. A plain value like the C `int`: it does not close
/// itself, so its owner calls `close()` (or uses `closeAfter(_:)`).
public struct FileDescriptor: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    public static let standardInput = FileDescriptor(rawValue: 0)
    public static let standardOutput = FileDescriptor(rawValue: 1)
    public static let standardError = FileDescriptor(rawValue: 2)

    public var description: String { "fd \(rawValue)" }

    /// How a file is opened: O_RDONLY, O_WRONLY or O_RDWR.
    public enum AccessMode: Sendable {
        case readOnly, writeOnly, readWrite
    }

    /// Extra open(2) flags. O_CLOEXEC is always added.
    public struct OpenOptions: OptionSet, Hashable, Sendable {
        public let rawValue: Int32
        public init(rawValue: Int32) { self.rawValue = rawValue }

        /// O_CREAT: create the file with the given permissions if missing.
        public static let create = OpenOptions(rawValue: O_CREAT)
        /// O_EXCL: with `.create`, fail with EEXIST if the file exists.
        public static let exclusive = OpenOptions(rawValue: O_EXCL)
        /// O_TRUNC: empty the file on open.
        public static let truncate = OpenOptions(rawValue: O_TRUNC)
        /// O_APPEND: every write goes to the end of the file.
        public static let append = OpenOptions(rawValue: O_APPEND)
        /// O_DIRECTORY: fail with ENOTDIR unless the path is a directory.
        public static let directory = OpenOptions(rawValue: O_DIRECTORY)
        /// O_NOFOLLOW: fail with ELOOP if the last component is a symlink.
        public static let noFollow = OpenOptions(rawValue: O_NOFOLLOW)
        /// O_NONBLOCK.
        public static let nonBlocking = OpenOptions(rawValue: O_NONBLOCK)
        /// O_NOCTTY: opening a terminal never makes it the controlling terminal.
        public static let noControllingTerminal = OpenOptions(rawValue: O_NOCTTY)
    }

    /// Where `lseek` counts from.
    public enum SeekOrigin: Sendable {
        case start, current, end
    }

    /// open(2). `permissions` (e.g. `0o640`) applies only when `.create` makes a
    /// new file, and the umask still narrows it; call `setPermissions` for an exact mode.
    public static func open(
        _ path: String, _ access: AccessMode, options: OpenOptions = [], permissions: UInt32 = 0o600
    ) throws -> FileDescriptor {
        let accessFlag: Int32
        switch access {
        case .readOnly: accessFlag = O_RDONLY
        case .writeOnly: accessFlag = O_WRONLY
        case .readWrite: accessFlag = O_RDWR
        }
        let flags = accessFlag | options.rawValue | O_CLOEXEC
        let fd = try syscall("open(\(path))") { Glibc.open(path, flags, mode_t(permissions)) }
        return FileDescriptor(rawValue: fd)
    }

    /// Opens a directory read-only, so it can be `fsync()`ed: after creating,
    /// renaming or removing an entry, syncing the directory makes that change durable.
    public static func openDirectory(_ path: String) throws -> FileDescriptor {
        try open(path, .readOnly, options: .directory)
    }

    /// close(2). EINTR is not retried: Linux has released the descriptor by then,
    /// and retrying could close a descriptor another thread just opened.
    public func close() throws {
        if Glibc.close(rawValue) == -1 {
            let err = errno
            if err != EINTR { throw IOError(errno: err, reason: "close(\(self))") }
        }
    }

    /// Runs `body`, then closes the descriptor whether or not `body` threw.
    /// A close failure is thrown only when `body` succeeded.
    public func closeAfter<R>(_ body: () throws -> R) throws -> R {
        let result: R
        do {
            result = try body()
        } catch {
            try? close()
            throw error
        }
        try close()
        return result
    }

    /// One read(2) into `buffer`: returns the bytes read, 0 at end of file.
    /// On a non-blocking descriptor with nothing to read this throws EAGAIN; use `tryRead`.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
        // SAFETY: base..<base+count is the caller's writable buffer.
        return try syscall("read(\(self))") { Glibc.read(rawValue, base, buffer.count) }
    }

    /// One read(2) on a non-blocking descriptor: the bytes read (0 at end of
    /// file), or nil when nothing is available yet.
    public func tryRead(into buffer: UnsafeMutableRawBufferPointer) throws -> Int? {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
        // SAFETY: base..<base+count is the caller's writable buffer.
        return try syscallUnlessWouldBlock("read(\(self))") { Glibc.read(rawValue, base, buffer.count) }
    }

    /// pread(2) at `offset` until `buffer` is full or the file ends. Returns the
    /// bytes read: fewer than `buffer.count` only at end of file. Does not move
    /// the file offset, so readers may share a descriptor with a writer.
    public func pread(into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws -> Int {
        guard let base = buffer.baseAddress else { return 0 }
        var done = 0
        while done < buffer.count {
            // SAFETY: base+done..<base+count lies within the caller's buffer.
            let n = try syscall("pread(\(self), at \(offset + Int64(done)))") {
                Glibc.pread(rawValue, base + done, buffer.count - done, off_t(offset) + off_t(done))
            }
            if n == 0 { break }
            done += n
        }
        return done
    }

    /// write(2) until every byte is written (a regular file or a blocking socket
    /// may take a write in parts). On a non-blocking descriptor use `tryWrite`.
    public func write(_ buffer: UnsafeRawBufferPointer) throws {
        guard let base = buffer.baseAddress else { return }
        var done = 0
        while done < buffer.count {
            // SAFETY: base+done..<base+count lies within the caller's buffer.
            done += try syscall("write(\(self))") { Glibc.write(rawValue, base + done, buffer.count - done) }
        }
    }

    /// Writes all of `bytes`; see `write(_:)`.
    public func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    /// One write(2) on a non-blocking descriptor: the bytes the kernel took
    /// (possibly fewer than offered), or nil when it took none (EAGAIN).
    public func tryWrite(_ buffer: UnsafeRawBufferPointer) throws -> Int? {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
        // SAFETY: base..<base+count is the caller's buffer.
        return try syscallUnlessWouldBlock("write(\(self))") { Glibc.write(rawValue, base, buffer.count) }
    }

    /// pwrite(2) of the whole buffer at `offset`, looping over partial writes.
    public func pwrite(_ buffer: UnsafeRawBufferPointer, at offset: Int64) throws {
        guard let base = buffer.baseAddress else { return }
        var done = 0
        while done < buffer.count {
            // SAFETY: base+done..<base+count lies within the caller's buffer.
            done += try syscall("pwrite(\(self), at \(offset + Int64(done)))") {
                Glibc.pwrite(rawValue, base + done, buffer.count - done, off_t(offset) + off_t(done))
            }
        }
    }

    /// Writes all of `bytes` at `offset`; see `pwrite(_:at:)`.
    public func pwrite(_ bytes: [UInt8], at offset: Int64) throws {
        try bytes.withUnsafeBytes { try pwrite($0, at: offset) }
    }

    /// fdatasync(2): the file's data (and the size, if it grew) is on stable
    /// storage when this returns. This is what makes a journal append durable.
    public func fdatasync() throws {
        try syscall("fdatasync(\(self))") { Glibc.fdatasync(rawValue) }
    }

    /// fsync(2): data and all metadata. Use on directories after changing entries.
    public func fsync() throws {
        try syscall("fsync(\(self))") { Glibc.fsync(rawValue) }
    }

    /// ftruncate(2): cuts (or zero-extends) the file to `size` bytes.
    public func ftruncate(to size: Int64) throws {
        try syscall("ftruncate(\(self), \(size))") { Glibc.ftruncate(rawValue, off_t(size)) }
    }

    /// lseek(2): moves the file offset and returns the new offset from the start.
    @discardableResult
    public func lseek(_ offset: Int64, from origin: SeekOrigin = .start) throws -> Int64 {
        let whence: Int32
        switch origin {
        case .start: whence = SEEK_SET
        case .current: whence = SEEK_CUR
        case .end: whence = SEEK_END
        }
        return Int64(try syscall("lseek(\(self), \(offset))") { Glibc.lseek(rawValue, off_t(offset), whence) })
    }

    /// fstat(2).
    public func status() throws -> FileStatus {
        var st = stat()
        try syscall("fstat(\(self))") { fstat(rawValue, &st) }
        return FileStatus(st)
    }

    /// The file's size in bytes (fstat).
    public func size() throws -> Int64 {
        try status().size
    }

    /// fchmod(2): sets the exact permission bits, unaffected by the umask.
    public func setPermissions(_ permissions: UInt32) throws {
        try syscall("fchmod(\(self), \(String(permissions, radix: 8)))") { fchmod(rawValue, mode_t(permissions)) }
    }

    /// Sets or clears O_NONBLOCK.
    public func setNonBlocking(_ enabled: Bool = true) throws {
        let flags = try syscall("fcntl(\(self), F_GETFL)") { fcntl(rawValue, F_GETFL) }
        let wanted = enabled ? flags | O_NONBLOCK : flags & ~O_NONBLOCK
        if wanted != flags {
            try syscall("fcntl(\(self), F_SETFL)") { fcntl(rawValue, F_SETFL, wanted) }
        }
    }

    /// Sets or clears FD_CLOEXEC (descriptors from elsewhere, e.g. systemd, lack it).
    public func setCloseOnExec(_ enabled: Bool = true) throws {
        let flags = try syscall("fcntl(\(self), F_GETFD)") { fcntl(rawValue, F_GETFD) }
        let wanted = enabled ? flags | FD_CLOEXEC : flags & ~FD_CLOEXEC
        if wanted != flags {
            try syscall("fcntl(\(self), F_SETFD)") { fcntl(rawValue, F_SETFD, wanted) }
        }
    }

    /// Whether O_NONBLOCK is set.
    public func isNonBlocking() throws -> Bool {
        let flags = try syscall("fcntl(\(self), F_GETFL)") { fcntl(rawValue, F_GETFL) }
        return flags & O_NONBLOCK != 0
    }

    /// Whether FD_CLOEXEC is set.
    public func isCloseOnExec() throws -> Bool {
        let flags = try syscall("fcntl(\(self), F_GETFD)") { fcntl(rawValue, F_GETFD) }
        return flags & FD_CLOEXEC != 0
    }
}
