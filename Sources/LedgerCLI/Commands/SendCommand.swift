import Dispatch
import LedgerCore
import LedgerPosix
#if canImport(Glibc)
import Glibc
#endif

/// `ledgerctl send`: NDJSON (or one JSON document) on stdin → the daemon's socket; prints
/// each response line. Exit 1 if any line was rejected or went unanswered.
enum SendCommand {
    static let usage = """
        usage: ledgerctl send [--socket PATH] [--quiet]
          Reads NDJSON (one event per line) or a single JSON document (which may span lines)
          from standard input, writes it to ledgerd and prints the daemon's response lines.
          --socket PATH  ledgerd's socket (default: $LEDGER_SOCKET, /run/ledger.sock or
                         $XDG_RUNTIME_DIR/ledger.sock)
          --quiet        print only rejected lines' responses
        Exit status: 0 every line accepted, 1 some line rejected or unanswered, 2 usage or connection error.
        """

    static func run(_ arguments: [String]) throws -> Int32 {
        var socket: String?
        var quiet = false
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            switch argument {
            case "--socket":
                guard index < arguments.count else { throw CLIError("send: --socket needs a path\n\(usage)", status: 2) }
                socket = arguments[index]
                index += 1
            case "--quiet", "-q": quiet = true
            case "-h", "--help": print(usage); return 0
            default: throw CLIError("send: unexpected argument \(argument)\n\(usage)", status: 2)
            }
        }
        let payload = try prepare(readAll(fd: 0))
        let fd: FileDescriptor
        do {
            fd = try UnixSocket.connect(to: socket ?? defaultSocketPath())
        } catch {
            throw CLIError("send: \(error)", status: 2)
        }
        // Responses are read while we write: ledgerd drops unread responses past a cap,
        // and send must see every one to report rejections.
        let lines = payload.lines
        let reader = ResponseReader(fd: fd, quiet: quiet)
        let done = DispatchSemaphore(value: 0)
        DispatchQueue(label: "ledgerctl.send.responses").async {
            reader.run()
            done.signal()
        }
        do {
            try fd.write(payload.bytes)
            try fd.shutdown(.write)
        } catch {
            printError("send: writing to the socket failed: \(error)")
        }
        done.wait()
        try? fd.close()
        if reader.responses < lines {
            printError("send: \(lines - reader.responses) of \(lines) lines got no response")
            return 1
        }
        return reader.rejected > 0 ? 1 : 0
    }

    /// What goes on the wire: the NDJSON as is (with a final newline), or one document
    /// canonicalized onto one line.
    static func prepare(_ input: [UInt8]) throws -> (bytes: [UInt8], lines: Int) {
        let isSingleDocument: Bool = {
            // NDJSON unless the first line alone is not JSON but the whole input is one document.
            guard let newline = input.firstIndex(of: UInt8(ascii: "\n")),
                  input[(newline + 1)...].contains(where: { $0 > 0x20 }) else { return false }
            var tape = JSONTape()
            if (try? tape.parse(Array(input[..<newline]))) != nil { return false }
            return (try? tape.parse(input)) != nil
        }()
        if isSingleDocument {
            do {
                var line = try CanonicalJSON.canonicalize(input)
                line.append(UInt8(ascii: "\n"))
                return (line, 1)
            } catch {
                throw CLIError("send: the input is not valid JSON: \(error)", status: 1)
            }
        }
        var bytes = input
        if let last = bytes.last, last != UInt8(ascii: "\n") { bytes.append(UInt8(ascii: "\n")) }
        var lines = 0
        var blank = true
        for byte in bytes {
            if byte == UInt8(ascii: "\n") {
                if !blank { lines += 1 }
                blank = true
            } else if byte != 0x20 && byte != 0x09 && byte != 0x0D {
                blank = false
            }
        }
        return (bytes, lines)
    }

    static func readAll(fd: Int32) throws -> [UInt8] {
        var input = InputStream(fd: fd)
        return try input.readToEnd()
    }

    /// LEDGER_SOCKET, else the daemon's default path.
    static func defaultSocketPath() -> String {
        if let path = Environment.get("LEDGER_SOCKET"), !path.isEmpty { return path }
        if getuid() == 0 || access("/run", W_OK) == 0 { return "/run/ledger.sock" }
        if let runtime = Environment.get("XDG_RUNTIME_DIR"), !runtime.isEmpty { return runtime + "/ledger.sock" }
        return "/run/ledger.sock"
    }
}

/// Prints response lines as they arrive and counts them.
final class ResponseReader: @unchecked Sendable {
    // @unchecked: the counters are written by the reading thread and read after it finished
    // (the semaphore orders them).
    let fd: FileDescriptor
    let quiet: Bool
    var responses = 0
    var rejected = 0

    init(fd: FileDescriptor, quiet: Bool) {
        self.fd = fd
        self.quiet = quiet
    }

    func run() {
        var out = OutputStream(fd: 1, flushAt: 64 << 10)
        var buffer = [UInt8](repeating: 0, count: 256 << 10)
        var partial: [UInt8] = []
        let failure = Array("{\"ok\":false".utf8)
        while true {
            let n = (try? buffer.withUnsafeMutableBytes { try fd.read(into: $0) }) ?? 0
            if n == 0 { break }
            partial.append(contentsOf: buffer[..<n])
            var start = 0
            while let newline = partial[start...].firstIndex(of: UInt8(ascii: "\n")) {
                let line = partial[start...newline]
                responses += 1
                let bad = line.starts(with: failure)
                if bad { rejected += 1 }
                if !quiet || bad { out.write(Array(line)) }
                start = newline + 1
            }
            partial.removeSubrange(..<start)
            out.flush()
        }
        out.flush()
    }
}
