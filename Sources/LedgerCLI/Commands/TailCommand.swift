import LedgerCore
import LedgerJournal
#if canImport(Glibc)
import Glibc
#endif

/// `ledgerctl tail`: the last records of the host journal, and with -f every record as it
/// becomes durable.
enum TailCommand {
    static let usage = """
        usage: ledgerctl tail [-f] [-n N] [--data-dir DIR] [--agent-id A] [--since T]
          Prints the last N (default 10) durable records of the journal under DIR
          (default /var/lib/ledger) as NDJSON; with -f keeps printing new ones as they
          become durable (polling the journal's checkpoint every 100 ms) until interrupted.
        """

    static func run(_ arguments: [String]) throws -> Int32 {
        var args = arguments
        var count = 10
        if let index = args.firstIndex(of: "-n") {
            guard index + 1 < args.count, let n = Int(args[index + 1]), n >= 0 else {
                throw CLIError("tail: -n needs a number", status: 2)
            }
            count = n
            args.removeSubrange(index...(index + 1))
        }
        guard let (dataDir, filter, flags) = try ExportCommand.parse(
            args, command: "tail", usage: usage, flags: ["-f", "--follow"]) else { return 0 }
        let follow = !flags.isEmpty
        let journal = JournalReader(dataDirectory: dataDir)
        let reader = RecordReader()
        var out = OutputStream(fd: 1, flushAt: 64 << 10)

        func matches(_ bytes: UnsafeRawBufferPointer) -> Bool {
            filter.isEmpty || ((try? reader.read(bytes)).map(filter.matches) ?? false)
        }

        // The last N matching records: without a filter they are the last N host_seqs.
        var after: UInt64 = 0
        do {
            let durable = try journal.durableHostSeq()
            var recent: [[UInt8]] = []
            var start: UInt64 = filter.isEmpty ? durable - min(durable, UInt64(count)) : 0
            while true {
                let last = try journal.read(after: start, limit: 10_000) { _, bytes in
                    if matches(bytes) {
                        recent.append(Array(bytes))
                        if recent.count > count { recent.removeFirst(recent.count - count) }
                    }
                    return true
                }
                if last == start || last >= durable { after = max(last, start); break }
                start = last
            }
            for record in recent {
                out.write(record)
                out.write([UInt8(ascii: "\n")])
            }
            out.flush()
            guard follow else { return 0 }
            while true {
                let last = try journal.read(after: after) { _, bytes in
                    if matches(bytes) {
                        out.buffer.append(contentsOf: bytes)
                        out.buffer.append(UInt8(ascii: "\n"))
                        out.flushIfFull()
                    }
                    return true
                }
                out.flush()
                if last == after { usleep(100_000) }
                after = last
            }
        } catch {
            throw CLIError("tail: \(error)", status: 2)
        }
    }
}
