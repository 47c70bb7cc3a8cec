import Foundation

/// The real `ledgerd` (from the build directory) on a socket and data directory of its own,
/// stopped with SIGTERM (its drain) when released.
final class DaemonProcess {
    let directory: TemporaryDirectory
    let process = Process()
    let hostID: String
    var socket: String { directory.file("ledger.sock") }
    var dataDir: String { directory.file("data") }
    var logPath: String { directory.file("ledgerd.log") }

    init(hostID: String = "e2e-host", extraArguments: [String] = []) throws {
        directory = try TemporaryDirectory("ledgerd-e2e")
        self.hostID = hostID
        process.executableURL = URL(fileURLWithPath: Paths.binary("ledgerd"))
        process.arguments = ["--socket", directory.file("ledger.sock"), "--data-dir", directory.file("data"),
                             "--host-id", hostID, "--standalone", "--config", "/dev/null"] + extraArguments
        _ = FileManager.default.createFile(atPath: directory.file("ledgerd.log"), contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: directory.file("ledgerd.log")))
        process.standardOutput = log
        process.standardError = log
        try process.run()
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            if Self.canConnect(socket) { return }
            if !process.isRunning { throw TestFailure("ledgerd exited with \(process.terminationStatus): \(log_())") }
            usleep(20_000)
        }
        throw TestFailure("ledgerd did not listen on \(socket): \(log_())")
    }

    deinit { _ = stop() }

    /// SIGTERM and wait; the exit status.
    @discardableResult
    func stop() -> Int32 {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        return process.terminationStatus
    }

    func log_() -> String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// `ledgerctl export` of this daemon's journal.
    func export() throws -> String {
        let result = try run(Paths.binary("ledgerctl"), ["export", "--data-dir", dataDir])
        guard result.status == 0 else { throw TestFailure("ledgerctl export: \(result.stderr)") }
        return result.stdout
    }

    static func canConnect(_ path: String) -> Bool {
        let fd = Foundation.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return false }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, byte) in bytes.enumerated() { raw[i] = byte }
        }
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) == 0
            }
        }
    }
}
