// Unix stream sockets: the daemon's listener, ledgerctl's client side, and
// systemd socket activation.
//
// ledgerd talks to no network; this AF_UNIX socket is its only door, and its
// file mode and group decide who may write to the audit log.

internal import Glibc

/// Creating, connecting to and inheriting Unix stream sockets.
/// Per-connection calls (`accept`, `peerCredentials`) are on `FileDescriptor`.
public enum UnixSocket {
    /// The longest socket path in bytes: `sun_path` holds 108 bytes including the NUL.
    public static let maxPathLength = 107

    /// The first descriptor systemd passes (SD_LISTEN_FDS_START).
    static let systemdFirstDescriptor: Int32 = 3

    /// Binds and listens at `path`, returning a non-blocking, close-on-exec listener.
    ///
    /// A socket file left by a previous run is removed first, but only if it is
    /// a socket and nothing answers on it; a live socket is `alreadyListening`
    /// and any other file is `notASocket`, never deleted. The file gets exactly
    /// `permissions` and, when given, the group `group` (looked up by name), and
    /// both are set before listen(2), so no client can connect while the socket
    /// still has the umask's mode.
    public static func listen(
        at path: String, permissions: UInt32 = 0o660, group: String? = nil, backlog: Int32 = 511
    ) throws -> FileDescriptor {
        var gid: UInt32? = nil
        if let group {
            guard let id = try FileSystem.groupID(named: group) else { throw UnixSocketError.groupNotFound(name: group) }
            gid = id
        }
        try removeStaleSocket(at: path)
        let fd = try makeSocket(nonBlocking: true)
        var bound = false
        do {
            try withAddress(path) { address, length in
                try syscall("bind(\(path))") { bind(fd.rawValue, address, length) }
            }
            bound = true
            try FileSystem.setPermissions(path, permissions)
            if let gid { try FileSystem.changeOwner(path, gid: gid) }
            try syscall("listen(\(path))") { Glibc.listen(fd.rawValue, backlog) }
            return fd
        } catch {
            try? fd.close()
            if bound { try? FileSystem.unlink(path, ignoreMissing: true) }
            throw error
        }
    }

    /// Connects to the socket at `path` as a client. The descriptor is blocking
    /// and close-on-exec. A missing socket, a refused connection and a denied
    /// permission are `UnixSocketError`s that say what to check.
    public static func connect(to path: String) throws -> FileDescriptor {
        let fd = try makeSocket(nonBlocking: false)
        do {
            // Retrying EINTR is right for AF_UNIX: an interrupted connect was
            // still waiting for backlog room and changed no socket state.
            try withAddress(path) { address, length in
                try syscall("connect(\(path))") { Glibc.connect(fd.rawValue, address, length) }
            }
            return fd
        } catch let error as IOError {
            try? fd.close()
            switch error.code {
            case .noSuchFile: throw UnixSocketError.noSocket(path: path)
            case .connectionRefused: throw UnixSocketError.connectionRefused(path: path)
            case .permissionDenied: throw UnixSocketError.permissionDenied(path: path)
            default: throw error
            }
        } catch {
            try? fd.close()
            throw error
        }
    }

    /// socketpair(2): two connected, blocking, close-on-exec stream sockets.
    public static func pair() throws -> (FileDescriptor, FileDescriptor) {
        var fds: [Int32] = [-1, -1]
        let type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        try syscall("socketpair(AF_UNIX)") { socketpair(AF_UNIX, type, 0, &fds) }
        return (FileDescriptor(rawValue: fds[0]), FileDescriptor(rawValue: fds[1]))
    }

    /// The listening sockets systemd passed by socket activation, as
    /// `sd_listen_fds(1)` finds them: only when LISTEN_PID is this process,
    /// LISTEN_FDS descriptors starting at 3. Sets close-on-exec on each and
    /// always unsets LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES so a child never
    /// mistakes them for its own. Empty when not socket-activated. Call once,
    /// at startup, before starting threads (it changes the environment).
    public static func socketsFromSystemd() -> [FileDescriptor] {
        let descriptors = systemdDescriptors(
            listenPID: Environment.get("LISTEN_PID"), listenFDs: Environment.get("LISTEN_FDS"), ownPID: getpid())
        for name in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] { Environment.unset(name) }
        return descriptors.map { raw in
            let fd = FileDescriptor(rawValue: raw)
            // Best effort, as in sd_listen_fds: a descriptor we cannot flag is still usable.
            try? fd.setCloseOnExec()
            return fd
        }
    }

    /// The descriptor numbers the activation variables describe; empty unless
    /// `listenPID` is exactly `ownPID` and `listenFDs` is a positive count.
    /// Both must be plain decimal, as systemd writes them.
    static func systemdDescriptors(listenPID: String?, listenFDs: String?, ownPID: Int32) -> Range<Int32> {
        let empty: Range<Int32> = systemdFirstDescriptor..<systemdFirstDescriptor
        guard let listenPID, let pid = decimal(listenPID), pid == Int(ownPID) else { return empty }
        guard let listenFDs, let count = decimal(listenFDs), count > 0,
            count <= Int(Int32.max - systemdFirstDescriptor)
        else { return empty }
        return systemdFirstDescriptor..<(systemdFirstDescriptor + Int32(count))
    }

    private static func decimal(_ text: String) -> Int? {
        guard !text.isEmpty, text.utf8.count <= 10, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        return Int(text)
    }

    /// Removes a socket file nobody listens on; see `listen(at:)`.
    static func removeStaleSocket(at path: String) throws {
        guard let status = try FileSystem.statusIfExists(path, followSymlinks: false) else { return }
        guard status.kind == .socket else { throw UnixSocketError.notASocket(path: path) }
        // A non-blocking probe: a live daemon with a full backlog answers EAGAIN
        // instead of making us wait, and still counts as live.
        let probe = try makeSocket(nonBlocking: true)
        defer { try? probe.close() }
        let rc = try withAddress(path) { address, length -> Int32 in
            Glibc.connect(probe.rawValue, address, length) == 0 ? 0 : errno
        }
        switch rc {
        case 0, EAGAIN, EINPROGRESS, EINTR:
            throw UnixSocketError.alreadyListening(path: path)
        case ECONNREFUSED:
            try FileSystem.unlink(path, ignoreMissing: true)
        case ENOENT:
            return
        default:
            throw IOError(errno: rc, reason: "connect(\(path))")
        }
    }

    static func makeSocket(nonBlocking: Bool) throws -> FileDescriptor {
        var type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        if nonBlocking { type |= Int32(SOCK_NONBLOCK.rawValue) }
        return FileDescriptor(rawValue: try syscall("socket(AF_UNIX)") { socket(AF_UNIX, type, 0) })
    }

    /// Calls `body` with a `sockaddr_un` for `path`.
    @discardableResult
    static func withAddress<R>(
        _ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) throws -> R
    ) throws -> R {
        let bytes = Array(path.utf8)
        guard !bytes.isEmpty, bytes.count <= maxPathLength, !bytes.contains(0) else {
            throw UnixSocketError.invalidPath(path: path)
        }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        // SAFETY: sun_path is 108 bytes and bytes.count <= 107 was checked above;
        // the rest stays zero, so the path is NUL-terminated.
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        // SAFETY: sockaddr_un begins with the sockaddr header, as the socket API expects.
        return try withUnsafePointer(to: &address) {
            try $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                try body($0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
    }
}

/// Why a Unix socket could not be set up or reached, with what to do about it.
public enum UnixSocketError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The path is empty, contains a NUL, or is longer than 107 bytes.
    /// Choose a shorter socket path.
    case invalidPath(path: String)
    /// Something other than a socket is at the socket path. We never delete it:
    /// move it away or configure another path.
    case notASocket(path: String)
    /// Another process is listening at the path (a second daemon?). Stop it or
    /// configure another path.
    case alreadyListening(path: String)
    /// The group configured for the socket does not exist. Create it
    /// (`groupadd`) or fix the configuration.
    case groupNotFound(name: String)
    /// Client side: no socket at the path. Is the daemon running, and is the path right?
    case noSocket(path: String)
    /// Client side: the socket file exists but nothing accepts on it (the daemon
    /// stopped and left it behind). Start the daemon.
    case connectionRefused(path: String)
    /// Client side: the socket's mode does not let us connect. Join its group.
    case permissionDenied(path: String)

    public var description: String {
        switch self {
        case .invalidPath(let path):
            return "invalid socket path '\(path)': must be 1 to \(UnixSocket.maxPathLength) bytes without NUL"
        case .notASocket(let path):
            return "\(path) exists and is not a socket; refusing to remove it"
        case .alreadyListening(let path):
            return "another process is already listening on \(path)"
        case .groupNotFound(let name):
            return "group '\(name)' does not exist"
        case .noSocket(let path):
            return "no socket at \(path): is the daemon running?"
        case .connectionRefused(let path):
            return "connection refused on \(path): the daemon is not running (stale socket file)"
        case .permissionDenied(let path):
            return "permission denied on \(path): join the socket's group to write to the ledger"
        }
    }
}
