import Foundation
import LedgerCore
import Testing

/// `ledgerctl hook claude-code` against the real ledgerd: every hook event Claude Code
/// sends becomes one valid record with the documented mapping, the hook never fails the
/// agent, and events spilled while ledgerd is down arrive later, in order, once.
@Suite(.serialized) struct ClaudeCodeHookTests {
    /// Payloads as Claude Code sends them (fields from its hooks reference), one per event.
    static let payloads: [(event: String, payload: String, actionType: String, actionName: String?, status: String?)] = [
        ("PreToolUse", #"{"session_id":"s-1","transcript_path":"/home/u/.claude/projects/p/s-1.jsonl","cwd":"/home/u/p","permission_mode":"default","hook_event_name":"PreToolUse","tool_name":"Bash","tool_input":{"command":"ls -la","description":"List files"},"tool_use_id":"toolu_01"}"#,
         "TOOL_CALL", "Bash", nil),
        ("PostToolUse", #"{"session_id":"s-1","transcript_path":"/t.jsonl","cwd":"/home/u/p","hook_event_name":"PostToolUse","tool_name":"Write","tool_input":{"file_path":"/home/u/p/a.txt","content":"hi"},"tool_response":{"filePath":"/home/u/p/a.txt","success":true},"tool_use_id":"toolu_02"}"#,
         "TOOL_RESULT", "Write", "success"),
        ("PostToolUseFailure", #"{"session_id":"s-1","cwd":"/home/u/p","hook_event_name":"PostToolUseFailure","tool_name":"Bash","tool_input":{"command":"false"},"error":"Command exited with status 1","tool_use_id":"toolu_03"}"#,
         "TOOL_RESULT", "Bash", "error"),
        ("UserPromptSubmit", #"{"session_id":"s-1","cwd":"/home/u/p","hook_event_name":"UserPromptSubmit","prompt":"Refactor the parser"}"#,
         "USER_PROMPT", nil, nil),
        ("SessionStart", #"{"session_id":"s-1","cwd":"/home/u/p","hook_event_name":"SessionStart","source":"startup","model":"claude-sonnet-4-5"}"#,
         "SESSION_START", nil, nil),
        ("SessionEnd", #"{"session_id":"s-1","cwd":"/home/u/p","hook_event_name":"SessionEnd","reason":"prompt_input_exit"}"#,
         "SESSION_END", nil, nil),
        ("Stop", #"{"session_id":"s-1","hook_event_name":"Stop","stop_hook_active":false}"#,
         "ASSISTANT_STOP", nil, nil),
        ("SubagentStop", #"{"session_id":"s-1","hook_event_name":"SubagentStop","stop_hook_active":false,"agent_id":"a-7","agent_type":"code-reviewer"}"#,
         "SUBAGENT_STOP", nil, nil),
        ("Notification", #"{"session_id":"s-1","hook_event_name":"Notification","message":"Claude needs your permission to use Bash"}"#,
         "CUSTOM", "Notification", nil),
        ("PreCompact", #"{"session_id":"s-1","hook_event_name":"PreCompact","trigger":"auto","custom_instructions":""}"#,
         "CUSTOM", "PreCompact", nil),
    ]

    static func hook(_ payload: String, socket: String, spill: String, extra: [String] = []) throws -> Finished {
        try run(Paths.binary("ledgerctl"), ["hook", "claude-code", "--socket", socket, "--spill", spill] + extra,
                stdin: Array(payload.utf8), timeout: 30)
    }

    @Test func everyHookEventBecomesOneRecordWithTheDocumentedMapping() throws {
        let daemon = try DaemonProcess()
        let spill = daemon.directory.file("spill.ndjson")
        for case let (_, payload, _, _, _) in Self.payloads {
            let result = try Self.hook(payload, socket: daemon.socket, spill: spill)
            #expect(result.status == 0, "\(result.stderr)")
        }
        let spilled = (try? Data(contentsOf: URL(fileURLWithPath: spill))) ?? Data()
        #expect(spilled.isEmpty, "nothing was spilled while ledgerd was up")
        let export = try daemon.export()
        let lines = export.split(separator: "\n").map(String.init)
        #expect(lines.count == Self.payloads.count)
        let verified = try run(Paths.binary("ledgerctl"), ["verify", "--complete", "-"], stdin: Array(export.utf8))
        #expect(verified.status == 0, "\(verified.stdout)")
        for (line, expected) in zip(lines, Self.payloads) {
            let record = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            #expect(record["agent_id"] as? String == "claude-code")
            #expect(record["session_id"] as? String == "s-1")
            #expect(record["source"] as? String == "hook")
            #expect(record["action_type"] as? String == expected.actionType, "\(expected.event)")
            #expect(record["action_name"] as? String == expected.actionName, "\(expected.event)")
            #expect(record["action_status"] as? String == expected.status, "\(expected.event)")
            let metadata = try #require(record["metadata"] as? [String: Any])
            #expect(metadata["hook_event_name"] as? String == expected.event)
            #expect(metadata["session_id"] == nil && metadata["tool_input"] == nil, "lifted fields are not repeated")
        }
        let byEvent = Dictionary(uniqueKeysWithValues: zip(Self.payloads.map(\.event), lines))
        #expect(byEvent["PreToolUse"]!.contains(#""action_input":{"command":"ls -la","description":"List files"}"#))
        #expect(byEvent["PostToolUse"]!.contains(#""action_output":{"filePath":"/home/u/p/a.txt","success":true}"#))
        #expect(byEvent["PostToolUseFailure"]!.contains(#""error_message":"Command exited with status 1""#))
        #expect(byEvent["UserPromptSubmit"]!.contains(#""action_input":{"prompt":"Refactor the parser"}"#))
        #expect(byEvent["SubagentStop"]!.contains(#""agent_type":"code-reviewer""#))
        #expect(byEvent["PreToolUse"]!.contains(#""tool_use_id":"toolu_01""#))
    }

    @Test func largeToolOutputIsReplacedByATruncationMarker() throws {
        let daemon = try DaemonProcess()
        let big = String(repeating: "x", count: 200_000)
        let payload = #"{"session_id":"s","hook_event_name":"PostToolUse","tool_name":"Read","tool_input":{"file_path":"/f"},"tool_response":{"content":"\#(big)"}}"#
        let result = try Self.hook(payload, socket: daemon.socket, spill: daemon.directory.file("spill"),
                                   extra: ["--max-value-bytes", "1024"])
        #expect(result.status == 0)
        let line = try daemon.export().split(separator: "\n").map(String.init).first ?? ""
        let record = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
        let output = try #require(record["action_output"] as? [String: Any])
        #expect(output["ledger_truncated"] as? Bool == true)
        let original = Array(#"{"content":"\#(big)"}"#.utf8)
        #expect(output["original_bytes"] as? Int == original.count)
        #expect(output["sha256"] as? String == SHA256.hash(original).hex)
        #expect((output["preview"] as? String)?.utf8.count ?? 0 <= 1024)
        #expect(record["action_input"] as? [String: String] == ["file_path": "/f"])
    }

    @Test func withLedgerdDownTheHookExitsZeroAtOnceAndSpillsThenDeliversInOrder() throws {
        let directory = try TemporaryDirectory("hook-spill")
        let socket = directory.file("absent.sock"), spill = directory.file("state/spill.ndjson")
        let started = Date()
        for (_, payload, _, _, _) in Self.payloads.prefix(3) {
            let result = try Self.hook(payload, socket: socket, spill: spill)
            #expect(result.status == 0)
            #expect(result.stdout.isEmpty, "the hook prints nothing Claude Code could act on")
        }
        #expect(Date().timeIntervalSince(started) < 10)
        let spilled = try String(contentsOfFile: spill, encoding: .utf8).split(separator: "\n")
        #expect(spilled.count == 3)
        let mode = try FileManager.default.attributesOfItem(atPath: spill)[.posixPermissions] as? Int
        #expect(mode == 0o600)

        let daemon = try DaemonProcess()
        let fourth = try Self.hook(Self.payloads[3].payload, socket: daemon.socket, spill: spill)
        #expect(fourth.status == 0)
        #expect(try String(contentsOfFile: spill, encoding: .utf8).isEmpty)
        let lines = try daemon.export().split(separator: "\n").map(String.init)
        #expect(lines.map { Exports.member("action_type", of: $0) }
                == ["TOOL_CALL", "TOOL_RESULT", "TOOL_RESULT", "USER_PROMPT"])
        // The spilled events keep the ids they were given when the hook ran.
        for (record, spilledEvent) in zip(lines, spilled) {
            #expect(Exports.member("id", of: record) == Exports.member("id", of: String(spilledEvent)))
        }
        // A flush with nothing spilled sends nothing and succeeds.
        let flush = try run(Paths.binary("ledgerctl"), ["hook", "flush", "--socket", daemon.socket, "--spill", spill])
        #expect(flush.status == 0)
        #expect(try daemon.export().split(separator: "\n").count == 4)
    }

    @Test func aPayloadThatIsNotJSONStillLeavesARecordAndABadFlagNeverFailsTheAgent() throws {
        let daemon = try DaemonProcess()
        let result = try Self.hook("this is not json", socket: daemon.socket, spill: daemon.directory.file("spill"))
        #expect(result.status == 0)
        let line = try daemon.export().split(separator: "\n").map(String.init).first ?? ""
        #expect(line.contains(#""action_name":"unparsed-hook-payload""#))
        #expect(line.contains(#""payload_preview":"this is not json""#))
        let bad = try run(Paths.binary("ledgerctl"), ["hook", "claude-code", "--bogus", "1"], stdin: Array("{}".utf8))
        #expect(bad.status == 0)
        #expect(bad.stderr.contains("unknown option --bogus"))
    }
}
