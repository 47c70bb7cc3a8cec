import Glibc
import Testing
@testable import LedgerPosix

@Suite struct FileDescriptorTests {
    @Test func written_bytes_read_back_with_pread_at_any_offset() throws {
        try withTemporaryDirectory { dir in
            let fd = try FileDescriptor.open(dir + "/seg", .readWrite, options: [.create, .exclusive], permissions: 0o640)
            try fd.closeAfter {
                try fd.write(Array("hello, ".utf8))
                try fd.write(Array("journal".utf8))
                try fd.fdatasync()
                #expect(try fd.size() == 14)

                var buffer = [UInt8](repeating: 0, count: 7)
                let n = try buffer.withUnsafeMutableBytes { try fd.pread(into: $0, at: 7) }
                #expect(n == 7)
                #expect(String(decoding: buffer, as: UTF8.self) == "journal")

                // Past the end: a short read reports how much there was.
                var tail = [UInt8](repeating: 0, count: 10)
                #expect(try tail.withUnsafeMutableBytes { try fd.pread(into: $0, at: 10) } == 4)
                #expect(try tail.withUnsafeMutableBytes { try fd.pread(into: $0, at: 100) } == 0)
            }
        }
    }

    @Test func pwrite_overwrites_in_place_without_moving_the_offset() throws {
        try withTemporaryDirectory { dir in
            let fd = try FileDescriptor.open(dir + "/f", .readWrite, options: .create)
            try fd.closeAfter {
                try fd.write(Array("aaaaaa".utf8))
                try fd.pwrite(Array("XY".utf8), at: 2)
                #expect(try fd.lseek(0, from: .current) == 6)
                try fd.write(Array("z".utf8))
                #expect(try readText(dir + "/f") == "aaXYaaz")
            }
        }
    }

    @Test func ftruncate_cuts_a_torn_tail_and_fsync_succeeds() throws {
        try withTemporaryDirectory { dir in
            let fd = try FileDescriptor.open(dir + "/f", .readWrite, options: .create)
            try fd.closeAfter {
                try fd.write([UInt8](repeating: 7, count: 100))
                try fd.ftruncate(to: 60)
                try fd.fsync()
                #expect(try fd.size() == 60)
                #expect(try fd.lseek(0, from: .end) == 60)
                try fd.ftruncate(to: 80)
                var buffer = [UInt8](repeating: 1, count: 20)
                #expect(try buffer.withUnsafeMutableBytes { try fd.pread(into: $0, at: 60) } == 20)
                #expect(buffer == [UInt8](repeating: 0, count: 20))
            }
        }
    }

    @Test func read_returns_zero_at_end_of_file() throws {
        try withTemporaryDirectory { dir in
            try FileSystem.writeAtomically(Array("abc".utf8), to: dir + "/f")
            let fd = try FileDescriptor.open(dir + "/f", .readOnly)
            try fd.closeAfter {
                var buffer = [UInt8](repeating: 0, count: 8)
                let first = try buffer.withUnsafeMutableBytes { try fd.read(into: $0) }
                let second = try buffer.withUnsafeMutableBytes { try fd.read(into: $0) }
                #expect(first == 3)
                #expect(second == 0)
            }
        }
    }

    @Test func exclusive_create_of_an_existing_file_fails_with_EEXIST() throws {
        try withTemporaryDirectory { dir in
            try FileDescriptor.open(dir + "/f", .writeOnly, options: .create).close()
            let error = #expect(throws: IOError.self) {
                _ = try FileDescriptor.open(dir + "/f", .writeOnly, options: [.create, .exclusive])
            }
            #expect(error?.code == .exists)
        }
    }

    @Test func opened_descriptors_are_close_on_exec() throws {
        try withTemporaryDirectory { dir in
            let fd = try FileDescriptor.open(dir + "/f", .writeOnly, options: .create)
            try fd.closeAfter {
                #expect(try fd.isCloseOnExec())
                try fd.setCloseOnExec(false)
                #expect(try !fd.isCloseOnExec())
            }
        }
    }

    @Test func nonblocking_read_with_nothing_pending_returns_nil() throws {
        let (a, b) = try UnixSocket.pair()
        defer { try? a.close(); try? b.close() }
        #expect(try !a.isNonBlocking())
        try a.setNonBlocking()
        #expect(try a.isNonBlocking())
        var buffer = [UInt8](repeating: 0, count: 4)
        #expect(try buffer.withUnsafeMutableBytes { try a.tryRead(into: $0) } == nil)
        try b.write(Array("hi".utf8))
        #expect(try buffer.withUnsafeMutableBytes { try a.tryRead(into: $0) } == 2)
        try b.close()
        #expect(try buffer.withUnsafeMutableBytes { try a.tryRead(into: $0) } == 0)
    }

    @Test func tryWrite_on_a_full_socket_returns_nil() throws {
        let (a, b) = try UnixSocket.pair()
        defer { try? a.close(); try? b.close() }
        try a.setNonBlocking()
        let chunk = [UInt8](repeating: 0, count: 1 << 16)
        var accepted = 0
        while let n = try chunk.withUnsafeBytes({ try a.tryWrite($0) }) {
            accepted += n
            #expect(accepted < 64 << 20, "socket buffer never filled")
            if accepted >= 64 << 20 { break }
        }
        #expect(accepted > 0)
    }

    @Test func closing_twice_is_EBADF() throws {
        try withTemporaryDirectory { dir in
            let fd = try FileDescriptor.open(dir + "/f", .writeOnly, options: .create)
            try fd.close()
            let error = #expect(throws: IOError.self) { try fd.close() }
            #expect(error?.code == .badDescriptor)
        }
    }

    @Test func directory_descriptor_can_be_fsynced() throws {
        try withTemporaryDirectory { dir in
            let fd = try FileDescriptor.openDirectory(dir)
            try fd.closeAfter { try fd.fsync() }
            #expect(throws: IOError.self) { _ = try FileDescriptor.openDirectory(dir + "/missing") }
        }
    }

    @Test func fstat_reports_kind_mode_and_owner() throws {
        try withTemporaryDirectory { dir in
            let fd = try FileDescriptor.open(dir + "/f", .writeOnly, options: .create)
            try fd.closeAfter {
                try fd.setPermissions(0o640)
                let status = try fd.status()
                #expect(status.kind == .regular)
                #expect(status.permissions == 0o640)
                #expect(status.uid == getuid())
                #expect(status.linkCount == 1)
            }
        }
    }
}
