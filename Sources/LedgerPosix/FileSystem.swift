// Path-level file operations: atomic small-file writes, mkdir -p, listings.
//
// Durability rule used throughout: a new or renamed directory entry is only
// durable once its parent directory has been fsync()ed, so every operation here
// that creates or replaces an entry syncs the parent before returning.

internal import Glibc

/// File operations by path. Every failure is an `IOError` naming the call and path.
public enum FileSystem {
    /// stat(2), or lstat(2) when `followSymlinks` is false.
    public static func status(_ path: String, followSymlinks: Bool = true) throws -> FileStatus {
        var st = stat()
        if followSymlinks {
            try syscall("stat(\(path))") { stat(path, &st) }
        } else {
            try syscall("lstat(\(path))") { lstat(path, &st) }
        }
        return FileStatus(st)
    }

    /// Like `status`, but nil when nothing is at `path` (ENOENT).
    public static func statusIfExists(_ path: String, followSymlinks: Bool = true) throws -> FileStatus? {
        do {
            return try status(path, followSymlinks: followSymlinks)
        } catch let error as IOError where error.code == .noSuchFile {
            return nil
        }
    }

    /// Whether anything is at `path` (following symlinks). Errors other than
    /// ENOENT (e.g. EACCES on a parent) count as "exists" so callers do not
    /// overwrite what they cannot see; use `statusIfExists` to tell them apart.
    public static func exists(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 || errno != ENOENT
    }

    /// mkdir -p: creates `path` and any missing parents. Each directory this call
    /// creates gets exactly `permissions` (the umask is overridden, so the mode
    /// does not depend on how the service was started) and its parent is synced.
    /// An existing directory is left as is; an existing non-directory is ENOTDIR.
    public static func createDirectory(_ path: String, permissions: UInt32 = 0o750) throws {
        if Glibc.mkdir(path, mode_t(permissions)) == 0 {
            try setPermissions(path, permissions)
            try syncDirectory(parentDirectory(of: path))
            return
        }
        let err = errno
        switch err {
        case EEXIST:
            if try status(path).kind != .directory {
                throw IOError(errno: ENOTDIR, reason: "mkdir(\(path))")
            }
        case ENOENT:
            let parent = parentDirectory(of: path)
            guard parent != path else { throw IOError(errno: err, reason: "mkdir(\(path))") }
            try createDirectory(parent, permissions: permissions)
            try createDirectory(path, permissions: permissions)
        default:
            throw IOError(errno: err, reason: "mkdir(\(path))")
        }
    }

    /// The names in a directory, without "." and "..", sorted by bytes so that
    /// zero-padded names (journal segments) come out in order.
    public static func contentsOfDirectory(_ path: String) throws -> [String] {
        guard let dir = opendir(path) else {
            throw IOError(errno: errno, reason: "opendir(\(path))")
        }
        defer { closedir(dir) }
        var names: [String] = []
        while true {
            // readdir returns nil both at the end and on error; only errno tells them apart.
            errno = 0
            guard let entry = readdir(dir) else {
                let err = errno
                if err != 0 { throw IOError(errno: err, reason: "readdir(\(path))") }
                break
            }
            // SAFETY: d_name is a NUL-terminated char array inside the dirent
            // that readdir owns until the next readdir call; it is copied at once.
            let name = withUnsafePointer(to: &entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: MemoryLayout.size(ofValue: $0.pointee)) {
                    String(cString: $0)
                }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    /// rename(2): atomically replaces `destination`. Sync the parent directory
    /// (`syncDirectory`) to make the new name durable.
    public static func rename(_ source: String, to destination: String) throws {
        try syscall("rename(\(source), \(destination))") { Glibc.rename(source, destination) }
    }

    /// unlink(2). With `ignoreMissing`, a missing file is not an error.
    public static func unlink(_ path: String, ignoreMissing: Bool = false) throws {
        do {
            try syscall("unlink(\(path))") { Glibc.unlink(path) }
        } catch let error as IOError where ignoreMissing && error.code == .noSuchFile {
            return
        }
    }

    /// chmod(2): sets the exact permission bits.
    public static func setPermissions(_ path: String, _ permissions: UInt32) throws {
        try syscall("chmod(\(path), \(String(permissions, radix: 8)))") { chmod(path, mode_t(permissions)) }
    }

    /// chown(2); a nil id is left unchanged.
    public static func changeOwner(_ path: String, uid: UInt32? = nil, gid: UInt32? = nil) throws {
        // (uid_t)-1 and (gid_t)-1 mean "leave unchanged".
        try syscall("chown(\(path))") { chown(path, uid ?? UInt32.max, gid ?? UInt32.max) }
    }

    /// The numeric id of a group (getgrnam_r), or nil if no such group exists.
    public static func groupID(named name: String) throws -> UInt32? {
        var entry = group()
        var result: UnsafeMutablePointer<group>? = nil
        var buffer = [CChar](repeating: 0, count: 1024)
        while true {
            // getgrnam_r returns the error number instead of setting errno.
            let rc = getgrnam_r(name, &entry, &buffer, buffer.count, &result)
            if rc == ERANGE && buffer.count < 1 << 20 {
                buffer = [CChar](repeating: 0, count: buffer.count * 4)
                continue
            }
            if rc == EINTR { continue }
            guard rc == 0 else { throw IOError(errno: rc, reason: "getgrnam_r(\(name))") }
            return result == nil ? nil : UInt32(entry.gr_gid)
        }
    }

    /// fsync(2) on a directory, making entries created, renamed or removed in it durable.
    public static func syncDirectory(_ path: String) throws {
        let dir = try FileDescriptor.openDirectory(path)
        try dir.closeAfter { try dir.fsync() }
    }

    /// Reads a whole file. Throws EFBIG if it holds more than `limit` bytes, so
    /// a misplaced path cannot make us read a huge file into memory.
    public static func readFile(_ path: String, limit: Int = 16 << 20) throws -> [UInt8] {
        let fd = try FileDescriptor.open(path, .readOnly)
        return try fd.closeAfter {
            var bytes: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 64 << 10)
            while true {
                let n = try chunk.withUnsafeMutableBytes { try fd.read(into: $0) }
                if n == 0 { return bytes }
                guard bytes.count + n <= limit else {
                    throw IOError(errno: EFBIG, reason: "read(\(path)): more than \(limit) bytes")
                }
                bytes.append(contentsOf: chunk[0..<n])
            }
        }
    }

    /// Replaces the file at `path` with `bytes` so that after a crash it holds
    /// either the old or the new content, never a mix: write a temporary file in
    /// the same directory, fsync it, rename it over `path`, fsync the directory.
    /// The file gets exactly `permissions`. Meant for small state files (cursors).
    public static func writeAtomically(_ bytes: [UInt8], to path: String, permissions: UInt32 = 0o600) throws {
        // A random suffix and O_EXCL keep concurrent writers (or a stale temp
        // file from a crash) from sharing a temporary file.
        let suffix = String(UInt64.random(in: 0...UInt64.max), radix: 16)
        let temporary = "\(path).tmp-\(suffix)"
        let fd = try FileDescriptor.open(temporary, .writeOnly, options: [.create, .exclusive], permissions: permissions)
        do {
            try fd.closeAfter {
                try fd.setPermissions(permissions)
                try fd.write(bytes)
                try fd.fsync()
            }
            try rename(temporary, to: path)
        } catch {
            try? unlink(temporary, ignoreMissing: true)
            throw error
        }
        try syncDirectory(parentDirectory(of: path))
    }

    /// Removes the temporary files `writeAtomically` leaves when a process is killed between
    /// creating one and renaming it (`PATH.tmp-…` for each of `paths`): each would stay for
    /// good, as a new name is drawn for every write. Call before anything writes those paths.
    public static func removeStaleTemporaries(of paths: [String], log: Logger) {
        var byDirectory: [String: [String]] = [:]
        for path in paths {
            let name = path.lastIndex(of: "/").map { String(path[path.index(after: $0)...]) } ?? path
            byDirectory[parentDirectory(of: path), default: []].append(name + ".tmp-")
        }
        for (directory, prefixes) in byDirectory {
            guard let names = try? contentsOfDirectory(directory) else { continue }
            for name in names where prefixes.contains(where: { name.hasPrefix($0) }) {
                let path = directory + "/" + name
                do {
                    try unlink(path, ignoreMissing: true)
                    log.info("removed a temporary file left by an interrupted write", ["path": path])
                } catch {
                    log.warn("cannot remove a temporary file left by an interrupted write", [
                        "path": path, "error": "\(error)"])
                }
            }
        }
    }

    /// Creates a fresh private directory (mode 0700) under `base` (default
    /// `$TMPDIR` or `/tmp`) and returns its path. Keep `base` short when the
    /// directory will hold Unix sockets (their paths are limited to 107 bytes).
    public static func makeTemporaryDirectory(prefix: String = "ledger", base: String? = nil) throws -> String {
        let root = base ?? Environment.get("TMPDIR").flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        var template = Array("\(root)/\(prefix)-XXXXXX".utf8CString)
        // SAFETY: mkdtemp rewrites the XXXXXX in place within the NUL-terminated array.
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        guard made != nil else { throw IOError(errno: errno, reason: "mkdtemp(\(root)/\(prefix)-XXXXXX)") }
        return String(cString: template)
    }

    /// Removes `path` and, for a directory, everything below it (rm -rf).
    /// Symlinks are removed, never followed. A missing path is not an error.
    public static func removeTree(_ path: String) throws {
        guard let st = try statusIfExists(path, followSymlinks: false) else { return }
        if st.kind == .directory {
            for name in try contentsOfDirectory(path) {
                try removeTree(path + "/" + name)
            }
            try syscall("rmdir(\(path))") { rmdir(path) }
        } else {
            try unlink(path, ignoreMissing: true)
        }
    }

    /// The directory part of a path: "a/b" -> "a", "/a" -> "/", "a" -> ".".
    static func parentDirectory(of path: String) -> String {
        var trimmed = Substring(path)
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        guard let slash = trimmed.lastIndex(of: "/") else { return "." }
        let parent = trimmed[..<slash]
        return parent.isEmpty ? "/" : String(parent)
    }
}
