// What stat(2) says about a file, as Swift types.

internal import Glibc

/// The parts of `struct stat` Ledger uses: type, permission bits, owner, size.
public struct FileStatus: Hashable, Sendable {
    /// The file type (the S_IFMT bits).
    public enum Kind: Hashable, Sendable {
        case regular, directory, symbolicLink, socket, fifo, characterDevice, blockDevice, unknown
    }

    public var kind: Kind
    /// Permission bits including setuid/setgid/sticky (`mode & 0o7777`), e.g. `0o660`.
    public var permissions: UInt32
    public var size: Int64
    public var uid: UInt32
    public var gid: UInt32
    public var device: UInt64
    public var inode: UInt64
    public var linkCount: UInt64
    /// Last modification, microseconds since the Unix epoch.
    public var modifiedMicroseconds: Int64

    init(_ st: stat) {
        switch st.st_mode & S_IFMT {
        case S_IFREG: kind = .regular
        case S_IFDIR: kind = .directory
        case S_IFLNK: kind = .symbolicLink
        case S_IFSOCK: kind = .socket
        case S_IFIFO: kind = .fifo
        case S_IFCHR: kind = .characterDevice
        case S_IFBLK: kind = .blockDevice
        default: kind = .unknown
        }
        permissions = UInt32(st.st_mode & 0o7777)
        size = Int64(st.st_size)
        uid = UInt32(st.st_uid)
        gid = UInt32(st.st_gid)
        device = UInt64(st.st_dev)
        inode = UInt64(st.st_ino)
        linkCount = UInt64(st.st_nlink)
        modifiedMicroseconds = Int64(st.st_mtim.tv_sec) * 1_000_000 + Int64(st.st_mtim.tv_nsec) / 1000
    }
}
