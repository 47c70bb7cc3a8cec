import LedgerCore
import LedgerJournal

/// `ledgerctl export`: the host journal as a FORMAT.md §4 export (NDJSON, one canonical
/// record per line), read straight from the journal files up to the durable position.
enum ExportCommand {
    static let usage = """
        usage: ledgerctl export [--data-dir DIR] [--agent-id A] [--since T]
          Writes the durable records of the host journal under DIR (default /var/lib/ledger)
          to standard output as an NDJSON export that `ledgerctl verify` checks.
          --agent-id A  only the chain of agent A
          --since T     only records received at or after T (RFC 3339); chains then start
                        partway and verify as anchored partial chains
        Without filters the export is the host's complete stream (verify --complete), unless
        segments were deleted by retention or quarantined.
        """

    struct Filter {
        var agentID: String?
        var sinceMicros: Int64?

        func matches(_ record: StoredRecord) -> Bool {
            if let agentID, record.agentID != agentID { return false }
            if let sinceMicros, (RFC3339.microseconds(record.receivedAt) ?? 0) < sinceMicros { return false }
            return true
        }

        var isEmpty: Bool { agentID == nil && sinceMicros == nil }
    }

    /// Parses `--data-dir`, `--agent-id`, `--since` and the given extra flags.
    static func parse(_ arguments: [String], command: String, usage: String,
                      flags: Set<String> = []) throws -> (dataDir: String, filter: Filter, flags: Set<String>)? {
        var dataDir = "/var/lib/ledger"
        var filter = Filter()
        var seen: Set<String> = []
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            if flags.contains(argument) {
                seen.insert(argument)
                continue
            }
            switch argument {
            case "--data-dir", "--agent-id", "--since":
                guard index < arguments.count else { throw CLIError("\(command): \(argument) needs a value", status: 2) }
                let value = arguments[index]
                index += 1
                if argument == "--data-dir" { dataDir = value }
                if argument == "--agent-id" { filter.agentID = value }
                if argument == "--since" {
                    guard let micros = RFC3339.microseconds(value) else {
                        throw CLIError("\(command): --since \(value) is not an RFC 3339 date-time", status: 2)
                    }
                    filter.sinceMicros = micros
                }
            case "-h", "--help":
                print(usage)
                return nil
            default: throw CLIError("\(command): unexpected argument \(argument)\n\(usage)", status: 2)
            }
        }
        return (dataDir, filter, seen)
    }

    static func run(_ arguments: [String]) throws -> Int32 {
        guard let (dataDir, filter, _) = try parse(arguments, command: "export", usage: usage) else { return 0 }
        let journal = JournalReader(dataDirectory: dataDir)
        let reader = RecordReader()
        var out = OutputStream(fd: 1)
        var count = 0
        var bad: String?
        do {
            var after: UInt64 = 0
            while true {
                let last = try journal.read(after: after, limit: 10_000) { _, bytes in
                    if !filter.isEmpty {
                        do {
                            guard filter.matches(try reader.read(bytes)) else { return true }
                        } catch {
                            bad = "\(error)"
                            return false
                        }
                    }
                    out.buffer.append(contentsOf: bytes)
                    out.buffer.append(UInt8(ascii: "\n"))
                    out.flushIfFull()
                    count += 1
                    return true
                }
                if last == after || bad != nil { break }
                after = last
            }
        } catch {
            throw CLIError("export: \(error)", status: 2)
        }
        out.flush()
        if let bad { throw CLIError("export: a journal record does not read back: \(bad)") }
        printError("ledgerctl export: \(count) records")
        return 0
    }
}
