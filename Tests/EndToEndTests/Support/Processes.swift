import Foundation
import Testing

/// Where the end-to-end tests find the built programs and the repository.
enum Paths {
    /// The repository root, from this file's path (Tests/EndToEndTests/Support/Processes.swift).
    static let repoRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The directory holding the .xctest bundle: the build directory with ledgerd, ledgerctl, ….
    static let binaries: URL = {
        for bundle in Bundle.allBundles where bundle.bundlePath.hasSuffix(".xctest") {
            let candidate = bundle.bundleURL.deletingLastPathComponent()
            if FileManager.default.isExecutableFile(atPath: candidate.appendingPathComponent("ledgerctl").path) {
                return candidate
            }
        }
        let argv0 = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        if FileManager.default.isExecutableFile(atPath: argv0.appendingPathComponent("ledgerctl").path) { return argv0 }
        return repoRoot.appendingPathComponent(".build/debug")
    }()

    static func binary(_ name: String) -> String { binaries.appendingPathComponent(name).path }

    static func repo(_ relative: String) -> String { repoRoot.appendingPathComponent(relative).path }

    /// An executable found on PATH, or nil.
    static func onPath(_ name: String) -> String? {
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let candidate = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }
}

/// A finished process: exit status and everything it wrote.
struct Finished {
    var status: Int32
    var stdout: String
    var stderr: String
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A scratch directory removed when the value is released.
final class TemporaryDirectory {
    let path: String

    init(_ prefix: String = "ledger-e2e") throws {
        var template = Array((NSTemporaryDirectory() + "\(prefix)-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { throw TestFailure("mkdtemp failed") }
        path = String(cString: made)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func file(_ name: String) -> String { path + "/" + name }

    @discardableResult
    func write(_ name: String, _ bytes: [UInt8]) throws -> String {
        let target = file(name)
        guard FileManager.default.createFile(atPath: target, contents: Data(bytes)) else {
            throw TestFailure("cannot write \(target)")
        }
        return target
    }
}

/// Runs a program to completion. Output goes through files, so a chatty child never blocks on a full pipe.
func run(_ executable: String, _ arguments: [String], stdin: [UInt8]? = nil, environment: [String: String]? = nil,
         directory: String? = nil, timeout: TimeInterval = 120) throws -> Finished {
    let scratch = try TemporaryDirectory("ledger-run")
    let outPath = scratch.file("stdout"), errPath = scratch.file("stderr"), inPath = scratch.file("stdin")
    _ = FileManager.default.createFile(atPath: outPath, contents: nil)
    _ = FileManager.default.createFile(atPath: errPath, contents: nil)
    _ = FileManager.default.createFile(atPath: inPath, contents: Data(stdin ?? []))
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let environment { process.environment = environment }
    if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
    let out = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
    let err = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
    let input = try FileHandle(forReadingFrom: URL(fileURLWithPath: inPath))
    process.standardOutput = out
    process.standardError = err
    process.standardInput = input
    try process.run()
    let deadline = Date().addingTimeInterval(timeout)
    while process.isRunning {
        if Date() > deadline {
            process.terminate()
            process.waitUntilExit()
            throw TestFailure("\(executable) \(arguments.joined(separator: " ")) took longer than \(timeout) s")
        }
        usleep(5_000)
    }
    process.waitUntilExit()
    try? out.close(); try? err.close(); try? input.close()
    return Finished(status: process.terminationStatus,
                    stdout: (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "",
                    stderr: (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "")
}

/// `python3`, or nil (tests that need it then fail with a message rather than crash).
func python3() throws -> String {
    guard let python = Paths.onPath("python3") else { throw TestFailure("python3 is not on PATH") }
    return python
}
