import LedgerCore
import LedgerPosix
#if canImport(Glibc)
import Glibc
#endif

/// `ledgerctl canon`: NDJSON on stdin, the RFC 8785 form of each line on stdout.
/// A line that is not I-JSON gets an error on stderr naming its number; the
/// other lines still come out, and the exit status is 1.
enum CanonCommand {
    static let usage = """
        usage: ledgerctl canon [--stats] < input.ndjson > canonical.ndjson
          Writes the RFC 8785 canonical form of every input line.
          --stats   print lines, bytes and throughput to stderr at the end
        """

    static func run(_ arguments: [String]) throws -> Int32 {
        var stats = false
        for argument in arguments {
            switch argument {
            case "--stats": stats = true
            case "-h", "--help": print(usage); return 0
            default: throw CLIError("canon: unknown argument \(argument)\n\(usage)", status: 2)
            }
        }
        let started = SystemClock.monotonicNanoseconds()
        var input = InputStream(fd: 0)
        var output = OutputStream(fd: 1)
        var splitter = LineSplitter(maxLineBytes: 64 << 20)
        var canonicalizer = LineCanonicalizer()
        var inputBytes = 0
        var tooLong = false
        try input.forEachChunk { chunk in
            inputBytes += chunk.count
            return splitter.feed(chunk, tooLong: { tooLong = true }) {
                canonicalizer.handle($0, into: &output)
                return true
            }
        }
        if tooLong { throw CLIError("ledgerctl canon: line \(canonicalizer.lineNumber + 1) is longer than 64 MiB") }
        if !splitter.remainder.isEmpty { splitter.remainder.withUnsafeBytes { canonicalizer.handle($0, into: &output) } }
        output.flush()
        let lineNumber = canonicalizer.lineNumber, failures = canonicalizer.failures
        if stats {
            let seconds = max(Double(SystemClock.monotonicNanoseconds() - started) / 1e9, 1e-9)
            let mib = Double(inputBytes) / 1_048_576
            printError("ledgerctl canon: \(lineNumber) lines, \(format(mib)) MiB in \(format(seconds)) s: "
                       + "\(Int(Double(lineNumber) / seconds)) lines/s, \(format(mib / seconds)) MiB/s")
        }
        return failures == 0 ? 0 : 1
    }
}

/// The per-line work of `canon`, as a struct so that the hot loop touches plain stored
/// properties (a local function capturing variables boxed them and retained on every line).
struct LineCanonicalizer {
    var tape = JSONTape()
    var lineNumber = 0
    var failures = 0

    mutating func handle(_ line: UnsafeRawBufferPointer, into output: inout OutputStream) {
        lineNumber += 1
        do {
            try tape.parse(line)
            CanonicalJSON.write(tape, 0, bytes: line, into: &output.buffer)
            output.buffer.append(UInt8(ascii: "\n"))
            output.flushIfFull()
        } catch {
            failures += 1
            printError("ledgerctl canon: line \(lineNumber): \(error.reason.rawValue): \(error)")
        }
    }
}

func format(_ value: Double) -> String {
    let scaled = (value * 100).rounded() / 100
    return "\(scaled)"
}
