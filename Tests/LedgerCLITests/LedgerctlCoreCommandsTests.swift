import Foundation
import LedgerCore
import LedgerPosix
import Testing

/// Runs the built `ledgerctl` binary (next to the test bundle) with stdin and returns
/// (exit status, stdout, stderr).
func runLedgerctl(_ arguments: [String], stdin: String = "") throws -> (Int32, String, String) {
    let binary = URL(fileURLWithPath: Bundle.main.bundlePath).deletingLastPathComponent()
        .appendingPathComponent("ledgerctl")
    let candidates = [binary.path,
                      URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                          .deletingLastPathComponent().appendingPathComponent(".build/debug/ledgerctl").path]
    guard let path = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
        throw CocoaError(.fileNoSuchFile)
    }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    let input = Pipe(), output = Pipe(), error = Pipe()
    process.standardInput = input
    process.standardOutput = output
    process.standardError = error
    try process.run()
    input.fileHandleForWriting.write(Data(stdin.utf8))
    try input.fileHandleForWriting.close()
    let out = output.fileHandleForReading.readDataToEndOfFile()
    let err = error.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: out, as: UTF8.self), String(decoding: err, as: UTF8.self))
}

@Suite struct LedgerctlCoreCommandsTests {
    @Test func canonWritesEveryGoodLineAndNamesEveryBadOne() throws {
        let input = "{\"b\":1,\"a\":2.50}\n{\"a\":1,\"a\":2}\n[1e21]\nnot json\n{\"x\":12345678901234567890}\n[\"\\u00e9\"]"
        let (status, out, err) = try runLedgerctl(["canon"], stdin: input)
        #expect(status == 1)
        #expect(out == "{\"a\":2.5,\"b\":1}\n[1e+21]\n[\"é\"]\n")
        #expect(err.contains("line 2: duplicateName"))
        #expect(err.contains("line 4: syntax"))
        #expect(err.contains("line 5: inexactNumber"))
        #expect(!err.contains("line 1:") && !err.contains("line 3:") && !err.contains("line 6:"))
    }

    @Test func canonSucceedsOnCleanInput() throws {
        let (status, out, _) = try runLedgerctl(["canon"], stdin: "{ \"z\" : [ ] , \"a\" : null }\n")
        #expect(status == 0)
        #expect(out == "{\"a\":null,\"z\":[]}\n")
    }

    @Test func verifyExitsZeroOnlyForAnIntactExport() throws {
        let builder = RecordBuilder(hostID: "h")
        var chains = HostChains(hostID: "h")
        var export = ""
        for i in 0..<5 {
            var out: [UInt8] = []
            let event = Array("{\"agent_id\":\"a\",\"action_input\":\(i)}".utf8)
            _ = try event.withUnsafeBytes {
                try builder.append($0, receivedAtMicros: 1_771_324_200_000_000, origin: .unix(uid: 0, gid: 0, pid: 1),
                                   chains: &chains, into: &out)
            }
            export += String(decoding: out, as: UTF8.self) + "\n"
        }
        let (ok, okOut, _) = try runLedgerctl(["verify", "--complete", "-"], stdin: export)
        #expect(ok == 0)
        #expect(okOut.hasPrefix("OK 5 records, 1 chains, 1 hosts verified"))
        let tampered = export.replacingOccurrences(of: "\"action_input\":3", with: "\"action_input\":4")
        let (bad, badOut, _) = try runLedgerctl(["verify", "--json", "-"], stdin: tampered)
        #expect(bad == 1)
        #expect(badOut.contains("\"reason\":\"hash_mismatch\""))
        #expect(badOut.contains("\"line\":4"))
        #expect(badOut.contains("\"valid\":false"))
        let (usage, _, _) = try runLedgerctl(["verify"])
        #expect(usage == 2)
    }

    @Test func keygenCreatesAPrivateKeyWithMode0600AndNeverOverwrites() throws {
        let directory = try FileSystem.makeTemporaryDirectory(prefix: "keygen")
        defer { try? FileSystem.removeTree(directory) }
        let path = directory + "/host.key"
        let (status, out, _) = try runLedgerctl(["keygen", "--out", path])
        #expect(status == 0)
        let publicKey = try Ed25519PublicKey(base64: out.trimmingCharacters(in: .whitespacesAndNewlines))
        let privateKey = try KeyFile.readPrivateKey(at: path)
        #expect(privateKey.publicKey == publicKey)
        #expect(try FileSystem.status(path).permissions == 0o600)
        let (again, _, err) = try runLedgerctl(["keygen", "--out", path])
        #expect(again == 1)
        #expect(err.contains("already exists"))
        #expect(try KeyFile.readPrivateKey(at: path).publicKey == publicKey)
    }
}
