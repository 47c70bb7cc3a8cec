// Free space on a filesystem, for work that must not be what fills it (ledgerd's
// zero-filled spare segment, docs/JOURNAL.md).

internal import Glibc

extension FileSystem {
    /// The bytes an unprivileged process can still allocate on the filesystem holding `path`
    /// (statvfs(3) `f_bavail` × `f_frsize`): the blocks ext4 reserves for root do not count,
    /// since ledgerd does not run as root.
    public static func availableBytes(_ path: String) throws -> Int64 {
        var st = statvfs()
        try syscall("statvfs(\(path))") { statvfs(path, &st) }
        let bytes = UInt64(st.f_bavail).multipliedReportingOverflow(by: UInt64(st.f_frsize))
        return bytes.overflow || bytes.partialValue > UInt64(Int64.max) ? .max : Int64(bytes.partialValue)
    }
}
