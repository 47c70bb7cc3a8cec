import Glibc
import Testing
@testable import LedgerPosix

@Suite struct SystemTests {
    @Test func failing_open_throws_IOError_with_errno_and_path() throws {
        let error = #expect(throws: IOError.self) {
            _ = try FileDescriptor.open("/nonexistent-ledger-dir/x", .readOnly)
        }
        #expect(error?.errno == ENOENT)
        #expect(error?.code == .noSuchFile)
        #expect(error?.reason == "open(/nonexistent-ledger-dir/x)")
        #expect(error?.description == "open(/nonexistent-ledger-dir/x): No such file or directory (errno 2)")
    }

    @Test func permission_denied_is_reported_as_EACCES() throws {
        // Root bypasses permission bits, so only check when not root.
        guard getuid() != 0 else { return }
        try withTemporaryDirectory { dir in
            let path = dir + "/secret"
            try FileDescriptor.open(path, .writeOnly, options: .create, permissions: 0o000).close()
            let error = #expect(throws: IOError.self) { _ = try FileDescriptor.open(path, .readOnly) }
            #expect(error?.code == .permissionDenied)
            #expect(error?.description == "open(\(path)): Permission denied (errno 13)")
        }
    }

    @Test func syscall_retries_EINTR_until_the_call_completes() throws {
        var calls = 0
        let result = try syscall("test") { () -> Int32 in
            calls += 1
            if calls < 3 {
                errno = EINTR
                return -1
            }
            return 42
        }
        #expect(result == 42)
        #expect(calls == 3)
    }

    @Test func syscall_maps_errno_at_once_and_evaluates_reason_only_on_failure() throws {
        var reasonEvaluated = false
        func reason() -> String {
            reasonEvaluated = true
            return "probe(x)"
        }
        _ = try syscall(reason()) { Int32(0) }
        #expect(!reasonEvaluated)
        let error = #expect(throws: IOError.self) {
            try syscall(reason()) { () -> Int in
                errno = EACCES
                return -1
            }
        }
        #expect(error == IOError(errno: EACCES, reason: "probe(x)"))
        #expect(reasonEvaluated)
    }

    @Test func syscallUnlessWouldBlock_returns_nil_on_EAGAIN_and_throws_others() throws {
        let none = try syscallUnlessWouldBlock("read") { () -> Int in
            errno = EAGAIN
            return -1
        }
        #expect(none == nil)
        #expect(throws: IOError(errno: EPIPE, reason: "write")) {
            _ = try syscallUnlessWouldBlock("write") { () -> Int in
                errno = EPIPE
                return -1
            }
        }
    }

    @Test(arguments: [
        (ENOENT, "No such file or directory"), (EACCES, "Permission denied"), (EAGAIN, "Resource temporarily unavailable"),
    ])
    func errno_message_is_strerror_text(code: Int32, text: String) {
        #expect(Errno.message(for: code) == text)
        #expect(Errno(rawValue: code).description == text)
    }

    @Test func unknown_errno_still_has_a_message() {
        #expect(!Errno.message(for: 99999).isEmpty)
    }

    @Test func environment_snapshot_matches_getenv() {
        let snapshot = Environment.current()
        #expect(snapshot["PATH"] == Environment.get("PATH"))
        #expect(Environment.get("LEDGER_SURELY_UNSET_VARIABLE_42") == nil)
    }
}
