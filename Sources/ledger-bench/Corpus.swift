import LedgerCore

/// A reproducible corpus of agent events: tool calls and results with file paths,
/// shell commands and model names, from a fixed seed.
struct EventCorpus {
    typealias Generator = SplitMix64

    static let tools = ["Bash", "Read", "Edit", "Write", "Grep", "Glob", "WebFetch", "Task", "TodoWrite"]
    static let models = ["claude-opus-4-1", "claude-sonnet-4-5", "gpt-5", "gemini-2.5-pro", "llama-4-maverick"]
    static let commands = ["git status --short", "swift build -c release", "ls -la Sources/LedgerCore",
                           "grep -rn \\\"TODO\\\" Sources", "make test", "cat Package.swift", "npm run lint -- --fix",
                           "python3 -m pytest -x tests/test_api.py", "docker compose logs --tail=50 api"]
    static let directories = ["Sources/LedgerCore/JSON", "Sources/LedgerDaemon", "src/components", "tests/unit",
                              "/etc/nginx/sites-enabled", "/home/dev/project/lib", "docs/adr"]
    static let files = ["JSONParser.swift", "main.go", "index.tsx", "settings.py", "README.md", "Makefile",
                        "server.rs", "config.yaml", "Dockerfile"]
    static let words = ["the", "build", "failed", "because", "module", "not", "found", "error", "warning", "line",
                        "expected", "value", "request", "returned", "status", "ok", "updated", "files", "changed"]

    var generator: Generator
    var agents: Int

    init(seed: UInt64 = 42, agents: Int = 16) {
        generator = Generator(seed: seed)
        self.agents = agents
    }

    mutating func pick(_ list: [String]) -> String { list.randomElement(using: &generator)! }

    mutating func text(bytes: Int) -> String {
        var out = ""
        while out.utf8.count < bytes { out += pick(Self.words) + " " }
        return String(out.prefix(bytes))
    }

    /// One event line of about `size` bytes (JSON, not canonical: writers don't send canonical form).
    mutating func event(index: Int, size: Int) -> String {
        let agent = "agent-\(index % agents)"
        let session = "session-\(index / 1000)"
        let tool = pick(Self.tools)
        let path = pick(Self.directories) + "/" + pick(Self.files)
        let head: String
        if index % 2 == 0 {
            let input = tool == "Bash" ? #"{"command":"\#(pick(Self.commands))","timeout":120000}"#
                                       : #"{"file_path":"\#(path)","model":"\#(pick(Self.models))"}"#
            head = #"{"agent_id":"\#(agent)","session_id":"\#(session)","source":"sdk","action_type":"TOOL_CALL","action_name":"\#(tool)","action_input":\#(input),"labels":{"env":"prod","team":"platform"},"metadata":{"note":""#
        } else {
            head = #"{"agent_id":"\#(agent)","session_id":"\#(session)","source":"sdk","action_type":"TOOL_RESULT","action_name":"\#(tool)","action_status":"success","duration_ms":\#(Int.random(in: 1...5000, using: &generator)),"action_output":{"path":"\#(path)","exit_code":0},"metadata":{"note":""#
        }
        let tail = #""}}"#
        let fill = max(0, size - head.utf8.count - tail.utf8.count)
        return head + text(bytes: fill) + tail
    }
}
