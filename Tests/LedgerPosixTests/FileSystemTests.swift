import Glibc
import Testing
@testable import LedgerPosix

@Suite struct FileSystemTests {
    @Test func atomic_write_creates_the_file_with_exact_permissions() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/cursor"
            try FileSystem.writeAtomically(Array("42\n".utf8), to: path, permissions: 0o640)
            #expect(try readText(path) == "42\n")
            #expect(try FileSystem.status(path).permissions == 0o640)
        }
    }

    @Test func atomic_write_replaces_old_content_and_leaves_no_temporary_file() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/cursor"
            try FileSystem.writeAtomically(Array("old content that is longer".utf8), to: path)
            let before = try FileSystem.status(path).inode
            try FileSystem.writeAtomically(Array("new".utf8), to: path)
            #expect(try readText(path) == "new")
            // A new inode: the old file was replaced by rename, not rewritten in place.
            #expect(try FileSystem.status(path).inode != before)
            #expect(try FileSystem.contentsOfDirectory(dir) == ["cursor"])
        }
    }

    @Test func failed_atomic_write_keeps_the_old_file() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/state"
            try FileSystem.writeAtomically(Array("v1".utf8), to: path)
            // The destination is now a non-empty directory: rename must fail.
            try FileSystem.unlink(path)
            try FileSystem.createDirectory(path + "/inner")
            #expect(throws: IOError.self) { try FileSystem.writeAtomically(Array("v2".utf8), to: path) }
            #expect(try FileSystem.contentsOfDirectory(dir) == ["state"])
            #expect(try FileSystem.status(path).kind == .directory)
        }
    }

    @Test func createDirectory_makes_parents_with_exact_mode_and_accepts_existing() throws {
        try withTemporaryDirectory { dir in
            let deep = dir + "/a/b/c"
            try FileSystem.createDirectory(deep, permissions: 0o750)
            for path in [dir + "/a", dir + "/a/b", deep] {
                let status = try FileSystem.status(path)
                #expect(status.kind == .directory)
                #expect(status.permissions == 0o750)
            }
            try FileSystem.createDirectory(deep, permissions: 0o700)  // exists: left alone
            #expect(try FileSystem.status(deep).permissions == 0o750)
        }
    }

    @Test func createDirectory_over_a_file_is_ENOTDIR() throws {
        try withTemporaryDirectory { dir in
            try FileSystem.writeAtomically([], to: dir + "/file")
            let error = #expect(throws: IOError.self) { try FileSystem.createDirectory(dir + "/file") }
            #expect(error?.code == .notDirectory)
            let nested = #expect(throws: IOError.self) { try FileSystem.createDirectory(dir + "/file/sub") }
            #expect(nested?.code == .notDirectory)
        }
    }

    @Test func directory_listing_is_sorted_and_skips_dot_entries() throws {
        try withTemporaryDirectory { dir in
            for name in ["00000002.seg", "00000010.seg", "00000001.seg", ".hidden"] {
                try FileSystem.writeAtomically([], to: dir + "/" + name)
            }
            #expect(try FileSystem.contentsOfDirectory(dir) == [".hidden", "00000001.seg", "00000002.seg", "00000010.seg"])
            #expect(throws: IOError.self) { _ = try FileSystem.contentsOfDirectory(dir + "/missing") }
        }
    }

    @Test func exists_status_rename_unlink() throws {
        try withTemporaryDirectory { dir in
            let a = dir + "/a", b = dir + "/b"
            #expect(!FileSystem.exists(a))
            #expect(try FileSystem.statusIfExists(a) == nil)
            try FileSystem.writeAtomically(Array("x".utf8), to: a)
            #expect(FileSystem.exists(a))
            try FileSystem.rename(a, to: b)
            #expect(!FileSystem.exists(a))
            #expect(try readText(b) == "x")
            try FileSystem.unlink(b)
            #expect(throws: IOError.self) { try FileSystem.unlink(b) }
            try FileSystem.unlink(b, ignoreMissing: true)
        }
    }

    @Test func lstat_sees_the_symlink_and_removeTree_does_not_follow_it() throws {
        try withTemporaryDirectory { outside in
            try FileSystem.writeAtomically(Array("keep".utf8), to: outside + "/precious")
            try withTemporaryDirectory { dir in
                #expect(symlink(outside, dir + "/link") == 0)
                #expect(try FileSystem.status(dir + "/link", followSymlinks: false).kind == .symbolicLink)
                #expect(try FileSystem.status(dir + "/link").kind == .directory)
                try FileSystem.removeTree(dir)
                #expect(!FileSystem.exists(dir))
            }
            #expect(try readText(outside + "/precious") == "keep")
        }
    }

    @Test func readFile_refuses_files_over_the_limit() throws {
        try withTemporaryDirectory { dir in
            try FileSystem.writeAtomically([UInt8](repeating: 65, count: 100), to: dir + "/f")
            #expect(try FileSystem.readFile(dir + "/f", limit: 100).count == 100)
            let error = #expect(throws: IOError.self) { _ = try FileSystem.readFile(dir + "/f", limit: 99) }
            #expect(error?.code == .fileTooLarge)
        }
    }

    @Test func available_bytes_of_a_filesystem_and_a_clear_error_for_a_missing_path() throws {
        try withTemporaryDirectory { dir in
            let available = try FileSystem.availableBytes(dir)
            #expect(available > 0)
            let error = #expect(throws: IOError.self) { _ = try FileSystem.availableBytes(dir + "/missing") }
            #expect(error?.code == .noSuchFile)
            #expect(error?.reason == "statvfs(\(dir)/missing)")
        }
    }

    @Test func group_lookup_by_name() throws {
        #expect(try FileSystem.groupID(named: "root") == 0)
        #expect(try FileSystem.groupID(named: "no-such-group-ledger-test") == nil)
    }

    @Test(arguments: [
        ("a/b", "a"), ("/a", "/"), ("a", "."), ("/a/b/", "/a"), ("/", "/"), ("/var/lib/ledger/x", "/var/lib/ledger"),
    ])
    func parent_directory(path: String, parent: String) {
        #expect(FileSystem.parentDirectory(of: path) == parent)
    }
}
