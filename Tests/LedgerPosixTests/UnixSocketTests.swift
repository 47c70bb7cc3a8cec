import Glibc
import Testing
@testable import LedgerPosix

@Suite struct UnixSocketTests {
    @Test func listening_socket_gets_exact_mode_0660_and_our_group() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/ledger.sock"
            let groupName = String(cString: getgrgid(getgid())!.pointee.gr_name)
            let listener = try UnixSocket.listen(at: path, permissions: 0o660, group: groupName)
            defer { try? listener.close() }
            let status = try FileSystem.status(path)
            #expect(status.kind == .socket)
            #expect(status.permissions == 0o660)
            #expect(status.gid == getgid())
            #expect(try listener.isNonBlocking())
            #expect(try listener.isCloseOnExec())
        }
    }

    @Test func unknown_group_is_an_error_and_creates_nothing() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/ledger.sock"
            #expect(throws: UnixSocketError.groupNotFound(name: "no-such-group-ledger-test")) {
                _ = try UnixSocket.listen(at: path, group: "no-such-group-ledger-test")
            }
            #expect(!FileSystem.exists(path))
        }
    }

    @Test func stale_socket_file_is_replaced() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/ledger.sock"
            // A previous run that died without unlinking its socket.
            try UnixSocket.listen(at: path).close()
            #expect(try FileSystem.status(path).kind == .socket)
            #expect(throws: UnixSocketError.connectionRefused(path: path)) { _ = try UnixSocket.connect(to: path) }

            let listener = try UnixSocket.listen(at: path)
            defer { try? listener.close() }
            let client = try UnixSocket.connect(to: path)
            try client.close()
        }
    }

    @Test func live_socket_is_not_replaced() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/ledger.sock"
            let first = try UnixSocket.listen(at: path)
            defer { try? first.close() }
            #expect(throws: UnixSocketError.alreadyListening(path: path)) { _ = try UnixSocket.listen(at: path) }
            // The first listener still owns the path and still answers.
            let client = try UnixSocket.connect(to: path)
            try client.close()
        }
    }

    @Test func a_regular_file_at_the_socket_path_is_never_deleted() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/ledger.sock"
            try FileSystem.writeAtomically(Array("data".utf8), to: path)
            #expect(throws: UnixSocketError.notASocket(path: path)) { _ = try UnixSocket.listen(at: path) }
            #expect(try readText(path) == "data")
        }
    }

    @Test func connecting_to_a_missing_socket_says_so() throws {
        try withTemporaryDirectory { dir in
            let error = #expect(throws: UnixSocketError.self) { _ = try UnixSocket.connect(to: dir + "/none.sock") }
            #expect(error == .noSocket(path: dir + "/none.sock"))
            #expect(error?.description.contains("is the daemon running?") == true)
        }
    }

    @Test func overlong_path_is_rejected_before_any_syscall() throws {
        let path = "/tmp/" + String(repeating: "x", count: 110)
        #expect(throws: UnixSocketError.invalidPath(path: path)) { _ = try UnixSocket.listen(at: path) }
        #expect(throws: UnixSocketError.invalidPath(path: "")) { _ = try UnixSocket.connect(to: "") }
    }

    @Test func peer_credentials_are_our_own_pid_uid_gid() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/ledger.sock"
            let listener = try UnixSocket.listen(at: path)
            defer { try? listener.close() }
            #expect(try listener.accept() == nil)  // nothing pending yet

            let client = try UnixSocket.connect(to: path)
            defer { try? client.close() }
            let server = try #require(try listener.accept())
            defer { try? server.close() }

            let expected = PeerCredentials(pid: getpid(), uid: getuid(), gid: getgid())
            #expect(try server.peerCredentials() == expected)
            #expect(try client.peerCredentials() == expected)
            #expect(try server.isNonBlocking())
            #expect(try server.isCloseOnExec())
        }
    }

    @Test func client_and_server_exchange_bytes_and_half_close() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/ledger.sock"
            let listener = try UnixSocket.listen(at: path)
            defer { try? listener.close() }
            let client = try UnixSocket.connect(to: path)
            defer { try? client.close() }
            let server = try #require(try listener.accept())
            defer { try? server.close() }

            try client.write(Array("{\"agent_id\":\"a\"}\n".utf8))
            try client.shutdown(.write)
            var received: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 64)
            while true {
                guard let n = try buffer.withUnsafeMutableBytes({ try server.tryRead(into: $0) }) else { continue }
                if n == 0 { break }
                received += buffer[0..<n]
            }
            #expect(String(decoding: received, as: UTF8.self) == "{\"agent_id\":\"a\"}\n")
            try server.write(Array("ok\n".utf8))
            let n = try buffer.withUnsafeMutableBytes { try client.read(into: $0) }
            #expect(String(decoding: buffer[0..<n], as: UTF8.self) == "ok\n")
        }
    }

    // socketsFromSystemd() reads and unsets the real environment, which other
    // tests running in parallel also read; the parsing is tested on injected values.
    @Test(arguments: [
        ("4242", "1", 4242, [3]),
        ("4242", "3", 4242, [3, 4, 5]),
        ("4242", "2", 1, []),  // meant for another process (e.g. a parent shell)
        (nil, "2", 4242, []),
        ("4242", nil, 4242, []),
        ("4242", "0", 4242, []),
        ("4242", "-1", 4242, []),
        ("4242", "x", 4242, []),
        (" 4242", "1", 4242, []),
        ("4242", "1 ", 4242, []),
        ("", "1", 4242, []),
        ("4242", "99999999999", 4242, []),
    ] as [(String?, String?, Int32, [Int32])])
    func systemd_activation_variables(listenPID: String?, listenFDs: String?, pid: Int32, expected: [Int32]) {
        #expect(Array(UnixSocket.systemdDescriptors(listenPID: listenPID, listenFDs: listenFDs, ownPID: pid)) == expected)
    }

    @Test func not_socket_activated_yields_no_descriptors() {
        // The test runner is not started by systemd socket activation.
        guard Environment.get("LISTEN_PID") == nil else { return }
        #expect(UnixSocket.socketsFromSystemd().isEmpty)
    }

    @Test func writing_to_a_closed_peer_is_EPIPE_once_SIGPIPE_is_ignored() throws {
        SignalWaiter.ignoreBrokenPipe()
        let (a, b) = try UnixSocket.pair()
        defer { try? a.close() }
        try b.close()
        let error = #expect(throws: IOError.self) { try a.write(Array("x".utf8)) }
        #expect(error?.code == .brokenPipe)
    }
}
