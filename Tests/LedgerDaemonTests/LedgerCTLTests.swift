import Foundation
import Glibc
import LedgerCore
import LedgerPosix
import Testing

/// Runs `ledgerctl` (next to ledgerd) with `input` on stdin; returns exit status and stdout.
func ledgerctl(_ arguments: [String], input: String = "") throws -> (status: Int32, output: String) {
    let binary = String(DaemonHarness.ledgerdPath.dropLast("ledgerd".count)) + "ledgerctl"
    let process = Process()
    process.executableURL = URL(fileURLWithPath: binary)
    process.arguments = arguments
    let stdin = Pipe(), stdout = Pipe()
    process.standardInput = stdin
    process.standardOutput = stdout
    process.standardError = FileHandle.nullDevice
    try process.run()
    stdin.fileHandleForWriting.write(Data(input.utf8))
    try stdin.fileHandleForWriting.close()
    let data = stdout.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

extension DaemonTests {
    @Test func ledgerctl_send_status_export_and_tail_work_against_the_real_daemon() throws {
        let daemon = try DaemonHarness()
        try daemon.start()
        // NDJSON in, responses out, exit 0.
        let sent = try ledgerctl(["send", "--socket", daemon.socket], input: event("cli") + "\n" + event("cli") + "\n")
        #expect(sent.status == 0 && sent.output.split(separator: "\n").count == 2)
        // One pretty-printed JSON document is sent as one line.
        let document = try ledgerctl(["send", "--socket", daemon.socket],
                                     input: "{\n  \"agent_id\": \"cli\",\n  \"labels\": {\"k\": \"v\"}\n}\n")
        #expect(document.status == 0 && Response(document.output).sequence == 3)
        // A rejected line makes the exit status non-zero.
        let bad = try ledgerctl(["send", "--socket", daemon.socket], input: event("cli") + "\n{\"nope\":1}\n")
        #expect(bad.status == 1 && bad.output.contains("VALIDATION_ERROR"))
        let status = try ledgerctl(["status", "--socket", daemon.socket])
        #expect(status.status == 0 && status.output.contains("chains        1"))
        let json = try ledgerctl(["status", "--socket", daemon.socket, "--json"])
        #expect(json.status == 0 && json.output.hasPrefix("{\"host_id\":\"test-host\""))
        let tail = try ledgerctl(["tail", "-n", "2", "--data-dir", daemon.dataDir])
        #expect(tail.status == 0 && tail.output.split(separator: "\n").count == 2)
        #expect(try daemon.terminate() == 0)
        // The export verifies as the host's complete stream.
        let export = try ledgerctl(["export", "--data-dir", daemon.dataDir])
        #expect(export.status == 0 && export.output.split(separator: "\n").count == 4)
        let verify = try ledgerctl(["verify", "--complete", "-"], input: export.output)
        #expect(verify.status == 0, "\(verify.output)")
        let filtered = try ledgerctl(["export", "--data-dir", daemon.dataDir, "--agent-id", "nobody"])
        #expect(filtered.status == 0 && filtered.output.isEmpty)
    }
}

