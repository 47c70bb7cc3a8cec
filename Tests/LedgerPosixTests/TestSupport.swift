// Helpers shared by the LedgerPosix tests: real temporary directories, no mocks.

import Glibc
@testable import LedgerPosix

/// Runs `body` with a fresh directory under /tmp (short, so socket paths fit
/// in sun_path) and removes it afterwards.
func withTemporaryDirectory<R>(_ body: (String) throws -> R) throws -> R {
    let directory = try FileSystem.makeTemporaryDirectory(prefix: "lpt", base: "/tmp")
    defer { try? FileSystem.removeTree(directory) }
    return try body(directory)
}

/// Reads whatever is in the file at `path` as text.
func readText(_ path: String) throws -> String {
    String(decoding: try FileSystem.readFile(path), as: UTF8.self)
}
