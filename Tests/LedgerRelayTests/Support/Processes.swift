// Starting the real programs for the end-to-end tests: ledgerd, ledger-server,
// ledger-relay and ledgerctl, built next to the test bundle by `swift build`.

import Foundation
import Glibc
import LedgerPosix

enum TestFailure: Error, CustomStringConvertible {
    case timeout(String)
    case failed(String)
    var description: String {
        switch self {
        case let .timeout(what): return "timed out: \(what)"
        case let .failed(what): return what
        }
    }
}

/// Where the executables are: $LEDGER_BIN_DIR, else the test bundle's directory.
enum Binaries {
    static let directory: String = {
        if let dir = ProcessInfo.processInfo.environment["LEDGER_BIN_DIR"], !dir.isEmpty { return dir }
        var candidates: [String] = []
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var url = executable.deletingLastPathComponent()
        for _ in 0..<4 {
            candidates.append(url.path)
            url = url.deletingLastPathComponent()
        }
        candidates.append(FileManager.default.currentDirectoryPath + "/.build/debug")
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0 + "/ledger-relay") } ?? candidates[0]
    }()

    static func path(_ name: String) -> String { directory + "/" + name }
}

/// A child process whose output goes to a log file in the test's directory.
final class Child {
    let name: String
    let process: Process
    let logPath: String

    init(_ executable: String, _ arguments: [String], logPath: String, environment: [String: String] = [:]) throws {
        name = executable
        self.logPath = logPath
        process = Process()
        process.executableURL = URL(fileURLWithPath: Binaries.path(executable))
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env["LEDGER_CONFIG"] = "/dev/null"
        env["LEDGER_SERVER_CONFIG"] = "/dev/null"
        for (key, value) in environment { env[key] = value }
        process.environment = env
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = FileHandle(forWritingAtPath: logPath)!
        log.seekToEndOfFile()
        process.standardOutput = log
        process.standardError = log
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }
    var isRunning: Bool { process.isRunning }

    /// kill -9: no chance to flush or clean up.
    func killHard() {
        if process.isRunning { kill(pid, SIGKILL) }
        process.waitUntilExit()
    }

    /// SIGTERM, then SIGKILL after `grace` seconds.
    func terminate(grace: Double = 5) {
        guard process.isRunning else { return }
        kill(pid, SIGTERM)
        let deadline = Date(timeIntervalSinceNow: grace)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        killHard()
    }

    func signal(_ number: Int32) { if process.isRunning { kill(pid, number) } }

    /// The exit status once the process has exited by itself within `seconds`; nil if it still runs.
    func exitStatus(within seconds: Double) -> Int32? {
        let deadline = Date(timeIntervalSinceNow: seconds)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        guard !process.isRunning else { return nil }
        return process.terminationStatus
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    deinit { if process.isRunning { kill(pid, SIGKILL) } }
}

/// Runs a program to completion; returns (status, stdout).
@discardableResult
func runTool(_ executable: String, _ arguments: [String], stdin: Data? = nil) throws -> (Int32, String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: Binaries.path(executable))
    process.arguments = arguments
    var env = ProcessInfo.processInfo.environment
    env["LEDGER_CONFIG"] = "/dev/null"
    env["LEDGER_SERVER_CONFIG"] = "/dev/null"
    process.environment = env
    let output = Pipe()
    process.standardOutput = output
    process.standardError = FileHandle.nullDevice
    if let stdin {
        let input = Pipe()
        process.standardInput = input
        try process.run()
        input.fileHandleForWriting.write(stdin)
        try input.fileHandleForWriting.close()
    } else {
        try process.run()
    }
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// Polls `condition` every 20 ms until it holds or `seconds` pass.
func waitUntil(_ what: String, seconds: Double, _ condition: () throws -> Bool) throws {
    let deadline = Date(timeIntervalSinceNow: seconds)
    while Date() < deadline {
        if try condition() { return }
        usleep(20_000)
    }
    if try condition() { return }
    throw TestFailure.timeout(what)
}

/// A loopback TCP port that was free a moment ago.
func freePort() -> UInt16 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    _ = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return UInt16(bigEndian: address.sin_port)
}
