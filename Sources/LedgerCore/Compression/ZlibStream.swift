// Owners for zlib's z_stream in both directions. A z_stream must not move
// after deflateInit/inflateInit (zlib keeps a pointer back to it and checks
// it on every call), so each lives in its own heap allocation that the owner
// frees in deinit, after deflateEnd/inflateEnd.

internal import CZlib

/// Size of the piece of output produced per zlib call: bounds how far past a
/// caller's limit decompression can get before the limit is noticed.
private let pieceSize = 64 * 1024

/// Streaming zlib-format compressor. `compress(_:finish:into:)` may be called
/// any number of times with `finish: false`, then once with `finish: true`.
final class Deflater {
    private let stream: UnsafeMutablePointer<z_stream>
    private let chunkLimit: Int
    private var finished = false

    init(level: Int32, chunkLimit: Int = Zlib.maxChunk) throws(ZlibError) {
        guard (-1...9).contains(level) else { throw .invalidLevel(level) }
        precondition(chunkLimit > 0 && chunkLimit <= Zlib.maxChunk)
        stream = .allocate(capacity: 1)
        // Zeroed zalloc/zfree/opaque select zlib's malloc and free.
        stream.initialize(to: z_stream())
        let status = deflateInit_(stream, level, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        guard status == Z_OK else {
            stream.deallocate()
            throw status == Z_MEM_ERROR
                ? .outOfMemory : .library(operation: "deflateInit", code: status, message: "")
        }
        self.chunkLimit = chunkLimit
    }

    deinit {
        deflateEnd(stream)
        stream.deallocate()
    }

    /// Worst-case compressed size of a whole stream of `count` input bytes.
    func bound(forInputCount count: Int) -> Int {
        Int(clamping: deflateBound(stream, UInt(count)))
    }

    /// Compresses `input`, passing each piece of output to `sink`. With
    /// `finish`, also ends the stream (writes the Adler-32 trailer).
    func compress(
        _ input: UnsafeRawBufferPointer, finish: Bool, sink: (UnsafeRawBufferPointer) -> Void
    ) throws(ZlibError) {
        precondition(!finished, "Deflater used after its stream was finished")
        try withUnsafeTemporaryAllocation(byteCount: pieceSize, alignment: 1) { (scratch) throws(ZlibError) in
            var offset = 0
            while true {
                if stream.pointee.avail_in == 0 && offset < input.count {
                    let count = min(input.count - offset, chunkLimit)
                    // SAFETY: zlib only reads through next_in (the header lacks
                    // ZLIB_CONST, hence the mutable type); `input` outlives
                    // the loop and `offset + count <= input.count`.
                    stream.pointee.next_in = UnsafeMutablePointer(
                        mutating: input.baseAddress!.advanced(by: offset).assumingMemoryBound(to: UInt8.self))
                    stream.pointee.avail_in = UInt32(count)
                    offset += count
                }
                let allFed = offset == input.count
                // SAFETY: `scratch` is pieceSize writable bytes for this closure.
                stream.pointee.next_out = scratch.baseAddress!.assumingMemoryBound(to: UInt8.self)
                stream.pointee.avail_out = UInt32(pieceSize)
                let status = deflate(stream, finish && allFed ? Z_FINISH : Z_NO_FLUSH)
                let produced = pieceSize - Int(stream.pointee.avail_out)
                if produced > 0 { sink(UnsafeRawBufferPointer(rebasing: scratch[..<produced])) }
                switch status {
                case Z_STREAM_END:
                    finished = true
                    return
                case Z_OK, Z_BUF_ERROR:
                    // Z_BUF_ERROR only means "no progress possible", which is
                    // how deflate reports that a non-finishing call is done.
                    let drained = allFed && stream.pointee.avail_in == 0 && stream.pointee.avail_out != 0
                    if drained && !finish { return }
                    if status == Z_BUF_ERROR && finish && produced == 0 {
                        throw .library(operation: "deflate", code: status, message: "no progress while finishing")
                    }
                default:
                    throw .library(operation: "deflate", code: status, message: Self.message(stream))
                }
            }
        }
    }

    static func message(_ stream: UnsafeMutablePointer<z_stream>) -> String {
        stream.pointee.msg.map { String(cString: $0) } ?? "no message"
    }
}

/// Streaming zlib-format decompressor for exactly one stream.
final class Inflater {
    private let stream: UnsafeMutablePointer<z_stream>
    private let chunkLimit: Int

    init(chunkLimit: Int = Zlib.maxChunk) throws(ZlibError) {
        precondition(chunkLimit > 0 && chunkLimit <= Zlib.maxChunk)
        stream = .allocate(capacity: 1)
        // Zeroed next_in/avail_in tell inflateInit there is no input yet.
        stream.initialize(to: z_stream())
        let status = inflateInit_(stream, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        guard status == Z_OK else {
            stream.deallocate()
            throw status == Z_MEM_ERROR
                ? .outOfMemory : .library(operation: "inflateInit", code: status, message: "")
        }
        self.chunkLimit = chunkLimit
    }

    deinit {
        inflateEnd(stream)
        stream.deallocate()
    }

    /// Decompresses `input`, which must be one whole zlib stream and nothing
    /// more, passing each piece of output (at most 64 KiB) to `sink` as soon as
    /// it exists. An error thrown by `sink` stops decompression at once.
    func decompress(
        _ input: UnsafeRawBufferPointer, sink: (UnsafeRawBufferPointer) throws(ZlibError) -> Void
    ) throws(ZlibError) {
        try withUnsafeTemporaryAllocation(byteCount: pieceSize, alignment: 1) { (scratch) throws(ZlibError) in
            var offset = 0
            while true {
                if stream.pointee.avail_in == 0 && offset < input.count {
                    let count = min(input.count - offset, chunkLimit)
                    // SAFETY: as in Deflater: read-only use, in bounds, `input`
                    // outlives the loop.
                    stream.pointee.next_in = UnsafeMutablePointer(
                        mutating: input.baseAddress!.advanced(by: offset).assumingMemoryBound(to: UInt8.self))
                    stream.pointee.avail_in = UInt32(count)
                    offset += count
                }
                // SAFETY: `scratch` is pieceSize writable bytes for this closure.
                stream.pointee.next_out = scratch.baseAddress!.assumingMemoryBound(to: UInt8.self)
                stream.pointee.avail_out = UInt32(pieceSize)
                let status = inflate(stream, Z_NO_FLUSH)
                let produced = pieceSize - Int(stream.pointee.avail_out)
                if produced > 0 { try sink(UnsafeRawBufferPointer(rebasing: scratch[..<produced])) }
                let inputLeft = Int(stream.pointee.avail_in) + (input.count - offset)
                switch status {
                case Z_STREAM_END:
                    guard inputLeft == 0 else { throw .trailingData }
                    return
                case Z_OK:
                    continue
                case Z_BUF_ERROR:
                    // No progress with a fresh output piece: input is missing.
                    guard inputLeft == 0 else {
                        throw .library(operation: "inflate", code: status, message: "no progress with input left")
                    }
                    throw .corrupt("truncated: the input ends before the zlib stream does")
                case Z_DATA_ERROR:
                    throw .corrupt(Deflater.message(stream))
                case Z_NEED_DICT:
                    throw .corrupt("the stream needs a preset dictionary, which Ledger never uses")
                case Z_MEM_ERROR:
                    throw .outOfMemory
                default:
                    throw .library(operation: "inflate", code: status, message: Deflater.message(stream))
                }
            }
        }
    }
}
