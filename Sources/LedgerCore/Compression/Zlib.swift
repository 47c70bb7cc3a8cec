// zlib-format compression (RFC 1950: 2-byte header, raw deflate, Adler-32
// trailer) through the system zlib. Not raw deflate (RFC 1951) and not gzip
// (RFC 1952): a zlib stream is self-checking and its first byte is 0x78 at
// the default window size, which the tests pin.
//
// Decompression takes untrusted input (batches from relays), so it is bounded:
// output is produced in fixed-size pieces and the call fails as soon as the
// total would pass the caller's cap, before any memory for the excess exists.
// Pinned by Tests/LedgerCoreTests/ZlibTests.swift.

/// Errors from `Zlib`.
public enum ZlibError: Error, Equatable, Sendable {
    /// A compression level outside -1...9 was asked for. A caller bug or a bad
    /// configuration value; the operator should set a level from 0 to 9.
    case invalidLevel(Int32)

    /// The decompressed data would exceed `limit` bytes, and decompression
    /// stopped there. Either the sender produced a larger payload than this
    /// side accepts or the input is a decompression bomb; the operator should
    /// check the sender, and raise the limit only if the payload is legitimate.
    case outputTooLarge(limit: Int)

    /// The input is not a valid zlib stream: bad header, bad deflate data,
    /// wrong Adler-32 checksum, or it ends before the stream does (truncated).
    /// The message says which. The data was damaged in transit or at rest;
    /// the operator should fetch or resend it, not retry the decompression.
    case corrupt(String)

    /// Bytes follow the end of a complete zlib stream. The framing around the
    /// stream is wrong (two payloads concatenated, or a length field off); the
    /// operator should treat the whole input as damaged.
    case trailingData

    /// The caller's `admit` refused the next piece of output (a memory budget shared with
    /// other decompressions was spent) after `bytes` bytes. Nothing is wrong with the input;
    /// the caller should try again later.
    case notAdmitted(bytes: Int)

    /// zlib could not allocate its internal state. The process is out of
    /// memory; the operator should check its memory limit.
    case outOfMemory

    /// zlib returned a status this wrapper does not expect (`operation` and
    /// `code` name it). A bug in this wrapper or a broken zlib; the operator
    /// should report it with the zlib version (`zlibVersion()`).
    case library(operation: String, code: Int32, message: String)
}

extension ZlibError: CustomStringConvertible {
    public var description: String {
        switch self {
        case let .invalidLevel(level): return "zlib compression level \(level) is outside -1...9"
        case let .outputTooLarge(limit): return "decompressed data exceeds the limit of \(limit) bytes"
        case let .corrupt(message): return "corrupt zlib data: \(message)"
        case .trailingData: return "unexpected bytes after the end of the zlib stream"
        case let .notAdmitted(bytes): return "decompression stopped after \(bytes) bytes: no memory budget left"
        case .outOfMemory: return "zlib could not allocate memory"
        case let .library(operation, code, message): return "zlib \(operation) returned \(code): \(message)"
        }
    }
}

/// One-shot zlib (RFC 1950) compression and bounded decompression.
public enum Zlib {
    /// zlib's `avail_in`/`avail_out` are 32-bit, so larger buffers go in pieces.
    static let maxChunk = Int(UInt32.max)

    /// The zlib-format compression of `input` at `level` (0 = store,
    /// 1 = fastest, 9 = smallest, -1 = zlib's default, which is 6).
    public static func compress(_ input: UnsafeRawBufferPointer, level: Int32 = 6) throws(ZlibError) -> [UInt8] {
        try compress(input, level: level, chunkLimit: maxChunk)
    }

    /// The zlib-format compression of `input` at `level`; see the buffer overload.
    public static func compress(_ input: [UInt8], level: Int32 = 6) throws(ZlibError) -> [UInt8] {
        // withUnsafeBufferPointer, unlike withUnsafeBytes, keeps the typed throw.
        try input.withUnsafeBufferPointer { (buffer) throws(ZlibError) in
            try compress(UnsafeRawBufferPointer(buffer), level: level)
        }
    }

    /// `chunkLimit` exists so tests can exercise the >4 GiB path on small input.
    static func compress(
        _ input: UnsafeRawBufferPointer, level: Int32, chunkLimit: Int
    ) throws(ZlibError) -> [UInt8] {
        let deflater = try Deflater(level: level, chunkLimit: chunkLimit)
        var output: [UInt8] = []
        // deflateBound is exact worst case for a single stream, so the array
        // is allocated once.
        output.reserveCapacity(deflater.bound(forInputCount: input.count))
        try deflater.compress(input, finish: true) { output.append(contentsOf: $0) }
        return output
    }

    /// Decompresses one complete zlib stream that must make up all of `input`.
    ///
    /// Throws `.outputTooLarge(limit: maxOutputBytes)` as soon as the output
    /// would pass `maxOutputBytes`; memory used stays within about the cap plus
    /// 64 KiB however large the stream claims to be. Throws `.corrupt` for
    /// invalid or truncated data and `.trailingData` for bytes after the end.
    public static func decompress(
        _ input: UnsafeRawBufferPointer, maxOutputBytes: Int
    ) throws(ZlibError) -> [UInt8] {
        try decompress(input, maxOutputBytes: maxOutputBytes, chunkLimit: maxChunk)
    }

    /// Decompresses one complete zlib stream; see the buffer overload.
    public static func decompress(_ input: [UInt8], maxOutputBytes: Int) throws(ZlibError) -> [UInt8] {
        try input.withUnsafeBufferPointer { (buffer) throws(ZlibError) in
            try decompress(UnsafeRawBufferPointer(buffer), maxOutputBytes: maxOutputBytes)
        }
    }

    /// Decompresses like `decompress(_:maxOutputBytes:)`, asking `admit` for each piece of
    /// output (at most 64 KiB) before keeping it: `admit(n)` false stops with `.notAdmitted`.
    /// The caller accounts the bytes it admitted (a budget shared by concurrent requests).
    public static func decompress(
        _ input: [UInt8], maxOutputBytes: Int, admit: (Int) -> Bool
    ) throws(ZlibError) -> [UInt8] {
        try input.withUnsafeBufferPointer { (buffer) throws(ZlibError) in
            try decompress(UnsafeRawBufferPointer(buffer), maxOutputBytes: maxOutputBytes, chunkLimit: maxChunk,
                           admit: admit)
        }
    }

    static func decompress(
        _ input: UnsafeRawBufferPointer, maxOutputBytes: Int, chunkLimit: Int, admit: (Int) -> Bool = { _ in true }
    ) throws(ZlibError) -> [UInt8] {
        precondition(maxOutputBytes >= 0, "maxOutputBytes must not be negative")
        let inflater = try Inflater(chunkLimit: chunkLimit)
        var output: [UInt8] = []
        // A guess that avoids regrowth for typical ratios, never above the cap. Generous on
        // purpose: pages reserved but never written are never faulted in, while each regrowth
        // copies everything so far (at 4× a relay batch of canonical records, ~10:1, grew twice:
        // ~4% of the server's ingest CPU in memmove and page clearing, perf).
        let guess = input.count <= Int.max / 16 ? max(4096, input.count * 16) : Int.max
        output.reserveCapacity(min(maxOutputBytes, guess))
        try inflater.decompress(input) { (piece) throws(ZlibError) in
            guard piece.count <= maxOutputBytes - output.count else {
                throw .outputTooLarge(limit: maxOutputBytes)
            }
            guard admit(piece.count) else { throw .notAdmitted(bytes: output.count) }
            let needed = output.count + piece.count
            if needed > output.capacity {
                // Geometric growth, but capped: Array's own doubling could
                // reserve up to twice the limit.
                output.reserveCapacity(min(max(needed, output.capacity * 2), maxOutputBytes))
            }
            output.append(contentsOf: piece)
        }
        return output
    }
}
