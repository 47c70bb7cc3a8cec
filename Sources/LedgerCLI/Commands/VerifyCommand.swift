import LedgerCore
import LedgerPosix
#if canImport(Glibc)
import Glibc
#endif

/// `ledgerctl verify FILE|-`: checks an export as FORMAT.md §4 says. Exit 0 only
/// when every record and chain verifies; 1 names the first broken record.
enum VerifyCommand {
    static let usage = """
        usage: ledgerctl verify [--complete] [--json] [--quiet] FILE|-
          Verifies an NDJSON export: canonical form, every hash, every chain link.
          --complete  the export is each host's complete stream: host_seq must run 1, 2, 3, …
          --json      print the report as one JSON object
          --quiet     print nothing; the exit status tells (0 valid, 1 broken, 2 usage/IO)
        Progress goes to stderr every second when stderr is a terminal.
        """

    static func run(_ arguments: [String]) throws -> Int32 {
        var path: String?
        var complete = false, json = false, quiet = false
        for argument in arguments {
            switch argument {
            case "--complete": complete = true
            case "--json": json = true
            case "--quiet", "-q": quiet = true
            case "-h", "--help": print(usage); return 0
            default:
                if argument.hasPrefix("--") || path != nil {
                    throw CLIError("verify: unexpected argument \(argument)\n\(usage)", status: 2)
                }
                path = argument
            }
        }
        guard let path else { throw CLIError("verify: missing FILE (use - for standard input)\n\(usage)", status: 2) }
        var input: InputStream
        do { input = try InputStream.open(path) } catch let error as CLIError { throw CLIError(error.description, status: 2) }
        let verifier = ExportVerifier(completeStream: complete)
        var splitter = LineSplitter()
        let progress = isatty(2) == 1 && !quiet
        let started = SystemClock.monotonicNanoseconds()
        var lastProgress = started
        var bytes = 0
        do {
        try input.forEachChunk { chunk in
            bytes += chunk.count
            let keepGoing = splitter.feed(chunk, tooLong: {
                verifier.fail(line: verifier.lines + 1, .malformed, "line longer than the 1 MiB record limit")
            }) { verifier.consume(line: $0) }
            if progress, SystemClock.monotonicNanoseconds() - lastProgress >= 1_000_000_000 {
                lastProgress = SystemClock.monotonicNanoseconds()
                let rate = Double(verifier.records) / (Double(lastProgress - started) / 1e9)
                printError("ledgerctl verify: \(verifier.records) records, \(bytes >> 20) MiB, \(Int(rate)) records/s")
            }
            return keepGoing
        }
        } catch let error as CLIError {
            throw CLIError(error.description, status: 2)  // an I/O error is not a verdict
        }
        if verifier.failure == nil, !splitter.remainder.isEmpty {
            verifier.fail(line: verifier.lines + 1, .malformed, "the last line has no terminating newline")
        }
        let report = verifier.finish()
        if !quiet { print(json ? jsonReport(report) : textReport(report)) }
        return report.isValid ? 0 : 1
    }

    static func textReport(_ report: VerificationReport) -> String {
        var lines: [String] = []
        if let failure = report.failure {
            lines.append("BROKEN \(failure)")
            lines.append("verified before the break: \(report.records) records in \(report.chains) chains")
        } else {
            lines.append("OK \(report.records) records, \(report.chains) chains, \(report.hosts) hosts verified")
        }
        for chain in report.partialChains {
            lines.append("partial chain \(chain.hostID)/\(chain.agentID) starts at sequence \(chain.firstSequence), "
                         + "anchored at prev_hash \(chain.anchor.hex) (valid from there on, not from genesis)")
        }
        return lines.joined(separator: "\n")
    }

    static func jsonReport(_ report: VerificationReport) -> String {
        var out: [UInt8] = []
        func key(_ name: String) { out.append(contentsOf: Array("\"\(name)\":".utf8)) }
        func text(_ value: String) { JSONEscapes.writeCanonicalString(value, into: &out) }
        out.append(contentsOf: Array("{\"chains\":\(report.chains),".utf8))
        if let failure = report.failure {
            out.append(contentsOf: Array("\"failure\":{".utf8))
            var members: [(String, () -> Void)] = []
            if let agent = failure.agentID { members.append(("agent_id", { text(agent) })) }
            if let host = failure.hostID { members.append(("host_id", { text(host) })) }
            if let id = failure.id { members.append(("id", { text(id) })) }
            members.append(("line", { out.append(contentsOf: Array("\(failure.line)".utf8)) }))
            members.append(("message", { text(failure.message) }))
            members.append(("reason", { text(failure.reason.rawValue) }))
            if let sequence = failure.sequence { members.append(("sequence", { out.append(contentsOf: Array("\(sequence)".utf8)) })) }
            for (index, member) in members.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                key(member.0)
                member.1()
            }
            out.append(contentsOf: Array("},".utf8))
        }
        out.append(contentsOf: Array("\"hosts\":\(report.hosts),\"partial_chains\":[".utf8))
        for (index, chain) in report.partialChains.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            out.append(UInt8(ascii: "{"))
            key("agent_id"); text(chain.agentID)
            out.append(UInt8(ascii: ",")); key("anchor"); text(chain.anchor.hex)
            out.append(contentsOf: Array(",\"first_sequence\":\(chain.firstSequence),".utf8))
            key("host_id"); text(chain.hostID)
            out.append(UInt8(ascii: "}"))
        }
        out.append(contentsOf: Array("],\"records\":\(report.records),\"valid\":\(report.isValid)}".utf8))
        return String(decoding: out, as: UTF8.self)
    }
}
