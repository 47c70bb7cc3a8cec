import Glibc
import LedgerPosix

/// A tmpfs of a given size mounted on a fresh directory, so that a test can fill a filesystem
/// for real (ENOSPC) without touching the machine's disks. Needs root (CAP_SYS_ADMIN).
final class TmpfsMount {
    let path: String

    /// Whether this process may mount (root in a namespace that allows it): tried once.
    static let available: Bool = (try? TmpfsMount(bytes: 64 << 10)) != nil

    init(bytes: Int) throws {
        let base = try FileSystem.makeTemporaryDirectory(prefix: "ljt-tmpfs")
        guard mount("tmpfs", base, "tmpfs", 0, "size=\(bytes),mode=0700") == 0 else {
            let error = IOError(errno: errno, reason: "mount(tmpfs, \(base))")
            try? FileSystem.removeTree(base)
            throw error
        }
        path = base
    }

    deinit {
        // MNT_DETACH: a descriptor a failed test left open must not keep the mount around.
        _ = umount2(path, Int32(MNT_DETACH))
        _ = rmdir(path)
    }
}
