import LedgerCore
import LedgerPosix
#if canImport(Glibc)
import Glibc
#endif

/// `ledgerctl hook claude-code`: reads a Claude Code hook payload on stdin and writes
/// one record to ledgerd. It never blocks or fails the agent: it always exits 0 within
/// the timeout, and an event that ledgerd cannot take now goes to a spill file that the
/// next hook run (or `ledgerctl hook flush`) sends first. See docs/CLAUDE-CODE.md.
enum HookCommand {
    static let usage = """
        usage: ledgerctl hook claude-code [--agent-id ID] [--socket PATH] [--timeout SECONDS]
                                          [--max-value-bytes N] [--spill PATH]
               ledgerctl hook flush [--socket PATH] [--spill PATH]
          claude-code  read a hook payload on stdin, write one record to ledgerd; always exits 0
          flush        send the spilled events now (exit 1 if ledgerd did not take them)
          --agent-id ID         agent_id of the records (default: $LEDGER_AGENT_ID or claude-code)
          --socket PATH         ledgerd's socket (default: $LEDGER_SOCKET, /run/ledger.sock or
                                $XDG_RUNTIME_DIR/ledger.sock)
          --timeout SECONDS     give up on ledgerd after this long and spill (default 2)
          --max-value-bytes N   larger tool inputs/outputs are replaced by a truncation marker
                                (default 65536)
          --spill PATH          spill file (default: $LEDGER_HOOK_SPILL or
                                $XDG_STATE_HOME/ledger/claude-code-spill.ndjson)
        """

    static func run(_ arguments: [String]) throws -> Int32 {
        guard let mode = arguments.first, mode == "claude-code" || mode == "flush" else {
            if arguments.first == "-h" || arguments.first == "--help" { print(usage); return 0 }
            throw CLIError("hook: expected claude-code or flush\n\(usage)", status: 2)
        }
        var agentID = Environment.get("LEDGER_AGENT_ID").flatMap { $0.isEmpty ? nil : $0 } ?? "claude-code"
        var socket = SendCommand.defaultSocketPath()
        var timeout = 2.0
        var maxValueBytes = 65_536
        var spill = HookSpill(path: HookSpill.defaultPath())
        var index = 1
        while index < arguments.count {
            let name = arguments[index]
            if name == "-h" || name == "--help" { print(usage); return 0 }
            guard index + 1 < arguments.count else { throw CLIError("hook: \(name) needs a value\n\(usage)", status: 2) }
            let value = arguments[index + 1]
            switch name {
            case "--agent-id": agentID = value
            case "--socket": socket = value
            case "--timeout": timeout = Double(value) ?? timeout
            case "--max-value-bytes": maxValueBytes = max(256, Int(value) ?? maxValueBytes)
            case "--spill": spill = HookSpill(path: value)
            default: throw CLIError("hook: unknown option \(name)\n\(usage)", status: 2)
            }
            index += 2
        }
        let connection = HookConnection(path: socket, timeout: timeout)
        if mode == "flush" {
            let sent = try spill.drain { connection.deliver($0) }
            printError("ledgerctl hook flush: \(sent.map { "\($0) events sent" } ?? "nothing sent (ledgerd unreachable or no spill file)")")
            return sent == nil && FileSystem.exists(spill.path) ? 1 : 0
        }
        let payload = (try? SendCommand.readAll(fd: 0)) ?? []
        let now = SystemClock.nowMicroseconds()
        var ids = UUIDv7Generator()
        let event = ClaudeCodeEvent(agentID: agentID, maxValueBytes: maxValueBytes)
            .event(payload: payload, id: ids.next(unixMillis: UInt64(now / 1000)), timestamp: RFC3339.utcMicroseconds(now))
        // Spilled events first, so the chain keeps the order in which the hooks ran.
        let backlogDelivered = (try? spill.drain { connection.deliver($0) }) ?? nil
        let spilledBefore = FileSystem.exists(spill.path) && backlogDelivered == nil
            && ((try? FileSystem.status(spill.path).size) ?? 0) > 0
        if spilledBefore || !connection.deliver([event]) {
            do {
                try spill.append(event)
            } catch {
                printError("ledgerctl hook: ledgerd unreachable and the spill file \(spill.path) failed: \(error)")
            }
        }
        return 0
    }
}

/// One short-lived connection to ledgerd with a deadline on every step.
struct HookConnection {
    let path: String
    let timeout: Double

    /// Sends the lines and waits for one `ok` response per line. False on any failure
    /// (unreachable, timeout, or a line refused).
    func deliver(_ lines: [[UInt8]]) -> Bool {
        guard !lines.isEmpty else { return true }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var interval = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - timeout.rounded(.down)) * 1_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &interval, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &interval, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let pathBytes = Array(path.utf8)
        guard pathBytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return false }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, byte) in pathBytes.enumerated() { raw[i] = byte }
        }
        // SAFETY: sockaddr_un is passed with its own size, as connect(2) expects.
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard connected == 0 else { return false }
        var payload: [UInt8] = []
        for line in lines { payload += line + [UInt8(ascii: "\n")] }
        var offset = 0
        while offset < payload.count {
            let n = payload.withUnsafeBytes { send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return false }
            offset += n
        }
        shutdown(fd, Int32(SHUT_WR))
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while received.filter({ $0 == UInt8(ascii: "\n") }).count < lines.count {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { return false }
            received += buffer[..<n]
        }
        let responses = received.split(separator: UInt8(ascii: "\n"))
        return responses.count >= lines.count && responses.allSatisfy { $0.starts(with: Array("{\"ok\":true".utf8)) }
    }
}
