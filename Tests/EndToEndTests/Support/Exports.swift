import LedgerCore

/// Builds NDJSON exports with LedgerCore's own record builder, and tampers with them.
enum Exports {
    /// The default plan: two hosts, four chains, interleaved, so that host_seq and sequence differ.
    static let plan = [("h1", "a"), ("h2", "a"), ("h1", "b"), ("h1", "a"), ("h2", "c")]

    /// Record lines (without newlines) for `count` events following `plan` cyclically.
    /// `input(i)` gives the `action_input` JSON of event i.
    static func records(_ count: Int = 30, plan: [(String, String)] = plan,
                        input: (Int) -> String = { #"{"i":\#($0)}"# }) throws -> [String] {
        var builders: [String: RecordBuilder] = [:]
        var chains: [String: HostChains] = [:]
        var lines: [String] = []
        for i in 0..<count {
            let (host, agent) = plan[i % plan.count]
            let builder = builders[host] ?? RecordBuilder(hostID: host)
            builders[host] = builder
            var hostChains = chains[host] ?? HostChains(hostID: host)
            let event = Array(#"{"agent_id":"\#(agent)","action_type":"TOOL_CALL","action_input":\#(input(i))}"#.utf8)
            var out: [UInt8] = []
            _ = try event.withUnsafeBytes {
                try builder.append($0, receivedAtMicros: 1_771_324_200_000_000 + Int64(i) * 1_000,
                                   origin: .unix(uid: 1000, gid: 1000, pid: 4242), chains: &hostChains, into: &out)
            }
            chains[host] = hostChains
            lines.append(String(decoding: out, as: UTF8.self))
        }
        return lines
    }

    /// The export file's bytes: every line followed by `\n`.
    static func file(_ lines: [String]) -> [UInt8] {
        Array(lines.map { $0 + "\n" }.joined().utf8)
    }

    /// The value of a top-level string member of a record line.
    static func member(_ name: String, of line: String) -> String {
        let marker = "\"\(name)\":\""
        let start = line.range(of: marker)!.upperBound
        let end = line[start...].firstIndex(of: "\"")!
        return String(line[start..<end])
    }

    /// Recomputes `hash` for an edited but still canonical line, so that only chain checks can catch the edit.
    static func rehash(_ line: String) -> String {
        let old = member("hash", of: line)
        let without = line.replacingOccurrences(of: #""hash":"\#(old)","#, with: "")
        let fresh = SHA256.hash(Array(without.utf8)).hex
        return line.replacingOccurrences(of: old, with: fresh)
    }
}
