// Calls on connected or listening sockets.

internal import Glibc

/// Who is on the other end of a Unix socket, as the kernel recorded it at
/// connect time (SO_PEERCRED). The client cannot forge it, which is why records
/// carry it as their `origin`.
public struct PeerCredentials: Hashable, Sendable {
    public let pid: Int32
    public let uid: UInt32
    public let gid: UInt32

    public init(pid: Int32, uid: UInt32, gid: UInt32) {
        self.pid = pid
        self.uid = uid
        self.gid = gid
    }
}

/// Which direction `shutdown` closes.
public enum ShutdownDirection: Sendable {
    case read, write, both
}

extension FileDescriptor {
    /// accept4(2) with SOCK_NONBLOCK | SOCK_CLOEXEC: the new connection, or nil
    /// when none is pending on a non-blocking listener. A connection the client
    /// aborted before we took it is skipped.
    public func accept() throws -> FileDescriptor? {
        let flags = Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        while true {
            do {
                let fd = try syscallUnlessWouldBlock("accept4(\(self))") {
                    LinuxCalls.accept4(rawValue, nil, nil, flags)
                }
                return fd.map(FileDescriptor.init(rawValue:))
            } catch let error as IOError where error.errno == ECONNABORTED {
                continue
            }
        }
    }

    /// The peer's pid, uid and gid (getsockopt SO_PEERCRED).
    public func peerCredentials() throws -> PeerCredentials {
        var raw = [UInt8](repeating: 0, count: LinuxCalls.ucredSize)
        var length = socklen_t(raw.count)
        try raw.withUnsafeMutableBytes { buffer in
            // SAFETY: buffer holds ucredSize bytes and `length` says so; the kernel
            // writes at most that many.
            _ = try syscall("getsockopt(\(self), SO_PEERCRED)") {
                getsockopt(rawValue, SOL_SOCKET, SO_PEERCRED, buffer.baseAddress, &length)
            }
        }
        guard Int(length) == LinuxCalls.ucredSize else {
            throw IOError(errno: EINVAL, reason: "getsockopt(\(self), SO_PEERCRED): \(length) bytes")
        }
        // struct ucred { pid_t pid; uid_t uid; gid_t gid; } in native byte order.
        return raw.withUnsafeBytes { bytes in
            PeerCredentials(
                pid: bytes.loadUnaligned(fromByteOffset: 0, as: Int32.self),
                uid: bytes.loadUnaligned(fromByteOffset: 4, as: UInt32.self),
                gid: bytes.loadUnaligned(fromByteOffset: 8, as: UInt32.self))
        }
    }

    /// shutdown(2): e.g. `.write` tells the peer we are done sending (it reads
    /// end of file) while we can still read its answer.
    public func shutdown(_ direction: ShutdownDirection) throws {
        let how: Int32
        switch direction {
        case .read: how = Int32(SHUT_RD)
        case .write: how = Int32(SHUT_WR)
        case .both: how = Int32(SHUT_RDWR)
        }
        try syscall("shutdown(\(self))") { Glibc.shutdown(rawValue, how) }
    }
}
