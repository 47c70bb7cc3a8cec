import Foundation
import LedgerCore
@testable import LedgerServer
import Testing

// The curl examples of docs/SERVER.md, run as a user would paste them: the command lines are
// read out of the doc (so the doc cannot drift from the server), `$KEY` is a key created for
// the test, and the documented port 7600 becomes the test server's port. The one addition is
// `-w '\n%{http_code}'`, so the status can be compared with the doc's `# NNN …` line.

@Suite("docs/SERVER.md curl examples against the real server")
struct DocExamplesTests {
    struct Example {
        var command: String
        /// The status of the first `# NNN` line after the command.
        var status: Int
    }

    static var docPath: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs/SERVER.md").path
    }

    /// The curl commands (continuation lines joined) of the first code block under `heading`.
    static func examples(under heading: String) throws -> [Example] {
        let text = try String(contentsOfFile: docPath, encoding: .utf8)
        guard let start = text.range(of: "\n" + heading + "\n") else { throw TestFailure("no section \(heading)") }
        let section = text[start.upperBound...].prefix { _ in true }
        let lines = section.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard let open = lines.firstIndex(where: { $0.hasPrefix("```") }),
              let close = lines[(open + 1)...].firstIndex(where: { $0.hasPrefix("```") }) else {
            throw TestFailure("no code block under \(heading)")
        }
        var examples: [Example] = []
        var index = open + 1
        while index < close {
            guard lines[index].hasPrefix("curl ") else { index += 1; continue }
            var command = ""
            while true {
                let line = lines[index]
                index += 1
                if line.hasSuffix("\\") {
                    command += line.dropLast() + " "
                } else {
                    command += line
                    break
                }
            }
            let status = lines[index..<close].first { $0.hasPrefix("# ") }
                .flatMap { Int($0.dropFirst(2).prefix(3)) } ?? 0
            examples.append(Example(command: command, status: status))
        }
        return examples
    }

    /// Runs `command` with `sh -c`, KEY in the environment; returns (status, body).
    static func run(_ example: Example, port: UInt16, key: String) throws -> (Int, [String: Any]?, [[String: Any]]?) {
        let command = example.command.replacingOccurrences(of: "127.0.0.1:7600", with: "127.0.0.1:\(port)")
            + #" -w '\n%{http_code}'"#
        let shell = Process()
        shell.executableURL = URL(fileURLWithPath: "/bin/sh")
        shell.arguments = ["-c", command]
        shell.environment = ["KEY": key, "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"]
        let out = Pipe()
        shell.standardOutput = out
        try shell.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        shell.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard shell.terminationStatus == 0, let newline = text.lastIndex(of: "\n") else {
            throw TestFailure("`\(command)` exited \(shell.terminationStatus): \(text)")
        }
        let status = Int(text[text.index(after: newline)...]) ?? 0
        let body = Data(text[..<newline].utf8)
        let json = try? JSONSerialization.jsonObject(with: body)
        return (status, json as? [String: Any], json as? [[String: Any]])
    }

    @Test func provenLogExamplesAnswerWhatTheDocSays() throws {
        let examples = try Self.examples(under: "## Direct ingest, ProvenLog style (scope write:events)")
        #expect(examples.count == 2)
        #expect(examples.map(\.status) == [201, 207])
        guard examples.count == 2 else { return }
        let server = try ServerProcess(hostID: "docs:server")
        let key = try server.createKey("docs", scopes: "write:events,read:events")

        let (status, event, _) = try Self.run(examples[0], port: server.port, key: key)
        #expect(status == examples[0].status)
        #expect(event?["agent_id"] as? String == "demo-agent")
        #expect(event?["action_type"] as? String == "TOOL_CALL")
        #expect(event?["action_name"] as? String == "bash")
        #expect((event?["action_input"] as? [String: Any])?["cmd"] as? String == "ls")
        #expect(event?["host_id"] as? String == "docs:server")
        #expect(event?["host_seq"] as? Int == 1)
        #expect(event?["sequence"] as? Int == 1)
        #expect(event?["prev_hash"] as? String == String(repeating: "0", count: 64))
        #expect(event?["schema_version"] as? String == "1.0")
        #expect((event?["id"] as? String)?.count == 36)
        #expect((event?["hash"] as? String)?.count == 64)
        #expect((event?["origin"] as? [String: Any])?["transport"] as? String == "http")

        let (batchStatus, _, results) = try Self.run(examples[1], port: server.port, key: key)
        #expect(batchStatus == examples[1].status)
        #expect(results?.count == 2)
        #expect(results?.first?["index"] as? Int == 0)
        #expect((results?.first?["event"] as? [String: Any])?["agent_id"] as? String == "a")
        #expect((results?.first?["event"] as? [String: Any])?["host_seq"] as? Int == 2)
        #expect(results?.last?["index"] as? Int == 1)
        #expect(results?.last?["error"] as? String == "agent_id is required")
        #expect(results?.last?["field"] as? String == "agent_id")
    }

    @Test func trenchcoatExampleAnswersWhatTheDocSays() throws {
        let examples = try Self.examples(under: "## Direct ingest, Trenchcoat style (scope write:events)")
        #expect(examples.count == 1)
        #expect(examples.first?.status == 200)
        guard let example = examples.first else { return }
        let server = try ServerProcess(hostID: "docs:server")
        let key = try server.createKey("claude-code", scopes: "write:events,read:events")
        let (status, body, _) = try Self.run(example, port: server.port, key: key)
        #expect(status == 200)
        let data = body?["data"] as? [String: Any]
        #expect(data?["accepted"] as? Int == 1)
        #expect(data?["rejected"] as? Int == 0)
        #expect(body?.count == 1)

        // The record it made, mapped as the doc's table says.
        let page = try server.get("/v1/events?session_id=123e4567-e89b-12d3-a456-426614174000", key: key).json
        let events = page["events"] as? [[String: Any]] ?? []
        #expect(events.count == 1)
        let record = events.first
        #expect(record?["agent_id"] as? String == "claude-code")
        #expect(record?["action_type"] as? String == "TOOL_USE")
        #expect(record?["action_name"] as? String == "Bash")
        #expect((record?["action_input"] as? [String: Any])?["command"] as? String == "ls")
        #expect(record?["timestamp"] as? String == "2026-02-17T10:30:00Z")
        #expect(record?["source"] as? String == "trenchcoat")
        #expect(record?["capture_method"] as? String == "http-api")
    }
}
