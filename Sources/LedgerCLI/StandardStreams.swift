import LedgerPosix
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Buffered, byte-level access to standard streams and files for the CLI's
/// streaming commands (canon, verify, export), which move millions of lines.
struct InputStream {
    let fd: FileDescriptor
    private var buffer: [UInt8]

    init(fd: Int32, chunkSize: Int = 1 << 20) {
        self.init(FileDescriptor(rawValue: fd), chunkSize: chunkSize)
    }

    init(_ fd: FileDescriptor, chunkSize: Int = 1 << 20) {
        self.fd = fd
        self.buffer = [UInt8](repeating: 0, count: chunkSize)
    }

    /// Opens a path, or standard input for "-".
    static func open(_ path: String) throws -> InputStream {
        if path == "-" { return InputStream(fd: 0) }
        do {
            return InputStream(try FileDescriptor.open(path, .readOnly))
        } catch let error as IOError {
            throw CLIError("cannot open \(path): \(Errno.message(for: error.errno))")
        }
    }

    /// Calls `body` with each chunk read until end of input.
    mutating func forEachChunk(_ body: (UnsafeRawBufferPointer) throws -> Bool) throws {
        while true {
            let n: Int
            do {
                n = try buffer.withUnsafeMutableBytes { try fd.read(into: $0) }
            } catch let error as IOError {
                throw CLIError("read failed: \(Errno.message(for: error.errno))")
            }
            if n == 0 { return }
            let keepGoing = try buffer.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[..<n])) }
            if !keepGoing { return }
        }
    }

    /// Everything until end of input.
    mutating func readToEnd() throws -> [UInt8] {
        var all: [UInt8] = []
        try forEachChunk { chunk in
            all.append(contentsOf: chunk)
            return true
        }
        return all
    }
}

/// Collects output and writes it in large blocks.
struct OutputStream {
    let fd: Int32
    var buffer: [UInt8] = []
    let flushAt: Int

    init(fd: Int32, flushAt: Int = 1 << 20) {
        self.fd = fd
        self.flushAt = flushAt
        buffer.reserveCapacity(flushAt + 4096)
    }

    mutating func write(_ bytes: [UInt8]) {
        buffer.append(contentsOf: bytes)
        if buffer.count >= flushAt { flush() }
    }

    mutating func write(_ text: String) { write(Array(text.utf8)) }

    mutating func flushIfFull() { if buffer.count >= flushAt { flush() } }

    mutating func flush() {
        var offset = 0
        while offset < buffer.count {
            let n = buffer.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                // A closed pipe (ledgerctl … | head) ends the command quietly.
                exit(errno == EPIPE ? 0 : 1)
            }
            offset += n
        }
        buffer.removeAll(keepingCapacity: true)
    }
}

func printError(_ text: String) {
    var stream = OutputStream(fd: 2)
    stream.write(text + "\n")
    stream.flush()
}

struct CLIError: Error, CustomStringConvertible {
    var description: String
    /// The process exit status when this error ends a command.
    var status: Int32
    init(_ description: String, status: Int32 = 1) {
        self.description = description
        self.status = status
    }
}
