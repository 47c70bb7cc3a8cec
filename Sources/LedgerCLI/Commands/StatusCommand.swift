import LedgerCore
import LedgerPosix
import LedgerRelay

/// `ledgerctl status`: asks ledgerd's admin socket for its status document.
enum StatusCommand {
    static let usage = """
        usage: ledgerctl status [--socket PATH | --admin-socket PATH] [--json]
          Shows chains, journal size, unforwarded backlog, disk cap and connections.
          --socket PATH        ledgerd's socket; the admin socket is PATH.admin
          --admin-socket PATH  the admin socket itself
          --json               print the daemon's JSON document as is
        """

    static func run(_ arguments: [String]) throws -> Int32 {
        var socket: String?
        var admin: String?
        var json = false
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            switch argument {
            case "--socket", "--admin-socket":
                guard index < arguments.count else { throw CLIError("status: \(argument) needs a path", status: 2) }
                if argument == "--socket" { socket = arguments[index] } else { admin = arguments[index] }
                index += 1
            case "--json": json = true
            case "-h", "--help": print(usage); return 0
            default: throw CLIError("status: unexpected argument \(argument)\n\(usage)", status: 2)
            }
        }
        let path = admin ?? ((socket ?? SendCommand.defaultSocketPath()) + ".admin")
        let document: [UInt8]
        do {
            let fd = try UnixSocket.connect(to: path)
            document = try fd.closeAfter {
                var input = InputStream(fd, chunkSize: 64 << 10)
                return try input.readToEnd()
            }
        } catch {
            throw CLIError("status: \(error)", status: 2)
        }
        if json {
            var out = OutputStream(fd: 1)
            out.write(document)
            out.flush()
            return 0
        }
        print(try summary(document))
        return 0
    }


    /// A readable rendering of the status document.
    static func summary(_ document: [UInt8]) throws -> String {
        var tape = JSONTape()
        do { try tape.parse(document) } catch { throw CLIError("status: the daemon sent invalid JSON: \(error)") }
        return document.withUnsafeBytes { raw -> String in
            func node(_ path: [StaticString]) -> Int? {
                var at = 0
                for name in path {
                    guard tape[at].kind == .object, let next = tape.value(of: name, in: at, bytes: raw) else { return nil }
                    at = next
                }
                return at
            }
            func text(_ path: StaticString...) -> String {
                guard let at = node(path) else { return "-" }
                switch tape[at].kind {
                case .string: return tape.string(at, bytes: raw)
                case .number: return String(tape.exactInteger(at, bytes: raw) ?? 0)
                case .true: return "yes"
                case .false: return "no"
                default: return "-"
                }
            }
            func mib(_ path: StaticString...) -> String {
                guard let at = node(path), let value = tape.exactInteger(at, bytes: raw) else { return "-" }
                let whole = Double(value) / 1_048_576
                return String(Int(whole * 10) / 10) + "." + String(Int(whole * 10) % 10) + " MiB"
            }
            var lines: [String] = []
            lines.append("host_id       \(text("host_id"))   up \(text("uptime_seconds")) s\(text("draining") == "yes" ? "   DRAINING" : "")")
            lines.append("journal       \(mib("journal", "bytes")) in \(text("journal", "segments")) segments, "
                + "cap \(mib("journal", "max_disk_bytes"))\(text("journal", "disk_full") == "yes" ? "   FULL: new lines get UNAVAILABLE" : "")")
            lines.append("              last host_seq \(text("journal", "last_host_seq")), durable \(text("journal", "durable_host_seq")), "
                + "quarantined segments \(text("journal", "quarantined_segments"))")
            if node(["journal", "failure"]) != nil { lines.append("              FAILED: \(text("journal", "failure"))") }
            let lost = text("journal", "lost_durable_records")
            if lost != "-" && lost != "0" {
                lines.append("              LOST: \(lost) acknowledged records missing from the journal at start (see ledgerd's log)")
            }
            if text("upstream", "standalone") == "yes" {
                lines.append("upstream      none (standalone), retention \(text("upstream", "retain_seconds")) s")
            } else {
                lines.append("upstream      acked host_seq \(text("upstream", "acked_host_seq")), unforwarded backlog "
                    + "\(text("upstream", "unforwarded_records")) records")
                if node(["upstream", "relay_cursor_ignored"]) != nil {
                    lines.append("              CURSOR IGNORED: \(text("upstream", "relay_cursor_ignored"))")
                }
                // The relay keeps its status next to its cursor (docs/RELAY.md).
                let cursor = text("upstream", "relay_cursor")
                if let slash = cursor.lastIndex(of: "/"),
                   let relay = RelayStatus.read(stateDirectory: String(cursor[..<slash])) {
                    lines += relay.summaryLines()
                } else {
                    lines.append("relay         no status file next to \(cursor) (is ledger-relay running?)")
                }
            }
            lines.append("records       accepted \(text("records", "accepted")), retries answered \(text("records", "deduplicated")), "
                + "responses dropped \(text("records", "responses_dropped"))")
            if let rejected = node(["records", "rejected"]) {
                let parts = tape.members(of: rejected).map { name -> String in
                    let value = tape.exactInteger(Int(name) + 1, bytes: raw) ?? 0
                    return "\(tape.string(Int(name), bytes: raw)) \(value)"
                }
                lines.append("rejected      \(parts.isEmpty ? "none" : parts.joined(separator: ", "))")
            }
            lines.append("connections   open \(text("connections", "open")), total \(text("connections", "total")), "
                + "paused \(text("connections", "paused")), unread_paused \(text("connections", "unread_paused"))")
            lines.append("chains        \(text("chain_count"))")
            if let chains = node(["chains"]) {
                for element in tape.elements(of: chains).prefix(20) {
                    guard let agent = tape.value(of: "agent_id", in: element, bytes: raw),
                          let sequence = tape.value(of: "sequence", in: element, bytes: raw) else { continue }
                    lines.append("  \(tape.string(agent, bytes: raw))  #\(tape.exactInteger(sequence, bytes: raw) ?? 0)")
                }
            }
            return lines.joined(separator: "\n")
        }
    }
}
