// Ed25519 key files: a small text format, written once and read strictly.
//
//   ledger-ed25519-private-key v1\n      (or ledger-ed25519-public-key v1)
//   <standard base64 of the 32 raw bytes, 44 characters>\n
//
// For a private key the 32 bytes are the RFC 8032 seed. Nothing else is
// accepted: no CR, no blank lines, no comments, no missing final newline, so
// a file has one spelling and a damaged one is never half-read.
//
// Private key files are created with mode 0600 whatever the umask, and are
// refused on read if the group or others can access them, the way ssh treats
// identity files. Pinned by Tests/LedgerPosixTests/KeyFileTests.swift.

internal import Glibc
import LedgerCore

/// Errors from reading and writing key files.
public enum KeyFileError: Error, Equatable {
    /// A key file already exists at `path`; writing never replaces one,
    /// because overwriting a signing key silently breaks every verifier that
    /// trusts the old one. The operator should move the old file away first.
    case alreadyExists(path: String)

    /// The private key file at `path` has permission bits `mode` that let the
    /// group or others access it. The key may have leaked; the operator should
    /// check who could read it, then `chmod 600` it (or rotate the key).
    case insecureMode(path: String, mode: UInt32)

    /// `path` is not a regular file (a directory, FIFO, socket or device).
    /// The operator should point the configuration at the key file itself.
    case notRegularFile(path: String)

    /// The file at `path` is not in the key file format; `reason` says where
    /// it deviates. The operator should regenerate or restore the file rather
    /// than edit it by hand.
    case malformed(path: String, reason: String)

    /// The system call `operation` failed on `path` with `errno`. Usually a
    /// missing file or directory, or permissions; the message names which.
    case system(path: String, operation: String, errno: Int32)
}

extension KeyFileError: CustomStringConvertible {
    public var description: String {
        switch self {
        case let .alreadyExists(path):
            return "key file \(path) already exists; refusing to overwrite it (move it away first)"
        case let .insecureMode(path, mode):
            return "key file \(path) has mode \(KeyFile.octal(mode)); it must not be readable by group or others "
                + "(chmod 600 \(path))"
        case let .notRegularFile(path):
            return "key file \(path) is not a regular file"
        case let .malformed(path, reason):
            return "key file \(path) is malformed: \(reason)"
        case let .system(path, operation, code):
            return "key file \(path): \(operation) failed: \(String(cString: strerror(code))) (errno \(code))"
        }
    }
}

public enum KeyFile {
    static let privateHeader = "ledger-ed25519-private-key v1"
    static let publicHeader = "ledger-ed25519-public-key v1"
    /// Header, newline, 44 base64 characters, newline: a valid file is 75 or
    /// 74 bytes. Anything longer is refused without reading it all.
    static let maxFileSize = 128

    /// Writes `key`'s seed to a new file at `path` with mode 0600 and syncs it
    /// to disk. Throws `.alreadyExists` rather than replace an existing file.
    public static func writePrivateKey(_ key: Ed25519PrivateKey, to path: String) throws {
        try write(header: privateHeader, bytes: key.rawRepresentation, mode: 0o600, to: path)
    }

    /// Reads a private key file written by `writePrivateKey`, refusing files
    /// the group or others can access.
    public static func readPrivateKey(at path: String) throws -> Ed25519PrivateKey {
        let seed = try read(header: privateHeader, otherHeader: publicHeader, requirePrivate: true, at: path)
        do {
            return try Ed25519PrivateKey(rawRepresentation: seed)
        } catch {
            throw KeyFileError.malformed(path: path, reason: "\(error)")
        }
    }

    /// Writes `key` to a new file at `path` with mode 0644 and syncs it.
    public static func writePublicKey(_ key: Ed25519PublicKey, to path: String) throws {
        try write(header: publicHeader, bytes: key.rawRepresentation, mode: 0o644, to: path)
    }

    /// Reads a public key file written by `writePublicKey`.
    public static func readPublicKey(at path: String) throws -> Ed25519PublicKey {
        let raw = try read(header: publicHeader, otherHeader: privateHeader, requirePrivate: false, at: path)
        do {
            return try Ed25519PublicKey(rawRepresentation: raw)
        } catch {
            throw KeyFileError.malformed(path: path, reason: "\(error)")
        }
    }

    /// Four-digit octal, as chmod spells it.
    static func octal(_ mode: UInt32) -> String {
        let digits = String(mode & 0o7777, radix: 8)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }

    // MARK: - Writing

    private static func write(header: String, bytes: [UInt8], mode: UInt32, to path: String) throws {
        let text = Array("\(header)\n\(Base64.encode(bytes))\n".utf8)
        // O_EXCL: never replace, never follow a symlink planted at `path`.
        let fd: FileDescriptor
        do {
            fd = try system(path, "open") {
                try FileDescriptor.open(path, .writeOnly, options: [.create, .exclusive], permissions: mode)
            }
        } catch KeyFileError.system(_, _, EEXIST) {
            throw KeyFileError.alreadyExists(path: path)
        }
        var created = true
        defer {
            // Keep no partial key file behind: a retry would hit O_EXCL.
            if created { try? FileSystem.unlink(path) }
        }
        try fd.closeAfter {
            // open's mode is filtered by the umask (and could only lose bits);
            // fchmod sets exactly `mode` whatever the umask.
            try system(path, "fchmod") { try fd.setPermissions(mode) }
            try system(path, "write") { try fd.write(text) }
            try system(path, "fsync") { try fd.fsync() }
        }
        // Makes the new directory entry durable too, not only the file's data.
        let directory = path.lastIndex(of: "/").map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? "."
        try system(directory, "fsync") { try FileSystem.syncDirectory(directory) }
        created = false
    }

    // MARK: - Reading

    private static func read(
        header: String, otherHeader: String, requirePrivate: Bool, at path: String
    ) throws -> [UInt8] {
        // O_NONBLOCK: opening a FIFO would otherwise wait for a writer before
        // the regular-file check below could refuse it. Symlinks are followed
        // (secret stores mount keys through them); fstat checks the target.
        let fd = try system(path, "open") {
            try FileDescriptor.open(path, .readOnly, options: [.nonBlocking, .noControllingTerminal])
        }
        return try fd.closeAfter {
            let info = try system(path, "fstat") { try fd.status() }
            guard info.kind == .regular else { throw KeyFileError.notRegularFile(path: path) }
            if requirePrivate && info.permissions & 0o077 != 0 {
                throw KeyFileError.insecureMode(path: path, mode: info.permissions & 0o7777)
            }
            var contents = [UInt8](repeating: 0, count: maxFileSize + 1)
            var count = 0
            while count < contents.count {
                let got = try system(path, "read") {
                    // SAFETY: reads into the unfilled tail of `contents`.
                    try contents.withUnsafeMutableBytes {
                        try fd.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[count...]))
                    }
                }
                if got == 0 { break }
                count += got
            }
            guard count <= maxFileSize else {
                throw KeyFileError.malformed(path: path, reason: "larger than \(maxFileSize) bytes")
            }
            return try parse(contents[..<count], header: header, otherHeader: otherHeader, path: path)
        }
    }

    /// Runs a LedgerPosix call (which retries EINTR) and names a failure as this file's
    /// `KeyFileError.system`, with the operation the operator should look at.
    private static func system<T>(_ path: String, _ operation: String, _ call: () throws -> T) throws -> T {
        do {
            return try call()
        } catch let error as IOError {
            throw KeyFileError.system(path: path, operation: operation, errno: error.errno)
        }
    }

    static func parse(
        _ contents: ArraySlice<UInt8>, header: String, otherHeader: String, path: String
    ) throws -> [UInt8] {
        guard contents.last == UInt8(ascii: "\n") else {
            throw KeyFileError.malformed(path: path, reason: "does not end with a newline")
        }
        let lines = contents.dropLast().split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        guard lines.count == 2 else {
            throw KeyFileError.malformed(path: path, reason: "expected exactly 2 lines, found \(lines.count)")
        }
        let first = String(decoding: lines[0], as: UTF8.self)
        guard first == header else {
            let reason = first == otherHeader
                ? "it holds a \(header.hasPrefix("ledger-ed25519-private") ? "public" : "private") key, "
                    + "expected first line '\(header)'"
                : "first line must be '\(header)'"
            throw KeyFileError.malformed(path: path, reason: reason)
        }
        do {
            // Invalid UTF-8 decodes to U+FFFD, which base64 then rejects.
            let second = String(decoding: lines[1], as: UTF8.self)
            return try Base64.decode(second, byteCount: 32, what: "second line")
        } catch {
            throw KeyFileError.malformed(path: path, reason: "\(error)")
        }
    }
}
