#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An append-only byte buffer over raw memory, used inside the canonical writer and
/// the record builder.
///
/// Why not `[UInt8]`: `append(contentsOf:)` with a raw buffer goes through a generic
/// path (~90 instructions under callgrind) and every `append` checks uniqueness and
/// capacity (~40). Here an append is one capacity compare and a store or `memcpy`.
/// Results cross the public API as `[UInt8]` with a single bulk append.
///
/// Not owning and not copy-on-write: copies alias the same memory. Whoever creates one
/// calls `deallocate()` exactly once, after the last use of every copy.
struct ByteWriter {
    private(set) var base: UnsafeMutablePointer<UInt8>
    private(set) var count = 0
    private(set) var capacity: Int
    /// False while `base` is memory the creator lent (e.g. a stack buffer): it is
    /// never freed or reallocated, only copied away from when it fills up.
    private var ownsMemory: Bool

    /// A writer over freshly allocated memory.
    init(capacity: Int) {
        let size = max(capacity, 64)
        // SAFETY: malloc'd memory is freed in deallocate() or moved by realloc in grow().
        guard let memory = malloc(size) else { fatalError("out of memory allocating \(size) bytes") }
        base = memory.assumingMemoryBound(to: UInt8.self)
        self.capacity = size
        ownsMemory = true
    }

    /// A writer that starts in `buffer` (which must outlive it) and moves to the heap
    /// only if it outgrows it.
    init(borrowing buffer: UnsafeMutableRawBufferPointer) {
        // SAFETY: the caller keeps `buffer` alive while the writer uses it; a zero-sized
        // buffer gets a dangling base that is never written (capacity 0 forces grow first).
        base = (buffer.baseAddress ?? UnsafeMutableRawPointer(bitPattern: 1)!).assumingMemoryBound(to: UInt8.self)
        capacity = buffer.count
        ownsMemory = false
    }

    func deallocate() {
        if ownsMemory { free(base) }
    }

    @inline(__always) mutating func removeAll() { count = 0 }

    /// Drops everything from `offset` on.
    @inline(__always) mutating func truncate(to offset: Int) {
        precondition(offset >= 0 && offset <= count)
        count = offset
    }

    @inline(__always) var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    @inline(__always)
    mutating func append(_ byte: UInt8) {
        if count == capacity { grow(1) }
        base[count] = byte
        count &+= 1
    }

    @inline(__always)
    mutating func append(_ source: UnsafeRawPointer, count length: Int) {
        if capacity &- count < length { grow(length) }
        // SAFETY: capacity - count >= length after grow; `source` holds `length` bytes and
        // never points into our own free space.
        let target = UnsafeMutableRawPointer(base + count)
        if length >= 8 && length <= 16 {
            // Most pieces of a record are short (member names, small values): two overlapping
            // 8-byte moves instead of a call to memcpy (~50 instructions each under callgrind).
            let head = source.loadUnaligned(as: UInt64.self)
            let tail = source.loadUnaligned(fromByteOffset: length - 8, as: UInt64.self)
            target.storeBytes(of: head, as: UInt64.self)
            target.storeBytes(of: tail, toByteOffset: length - 8, as: UInt64.self)
        } else {
            memcpy(target, source, length)
        }
        count &+= length
    }

    @inline(__always)
    mutating func append(_ buffer: UnsafeRawBufferPointer) {
        guard let start = buffer.baseAddress else { return }
        append(start, count: buffer.count)
    }

    @inline(__always)
    mutating func append(_ text: StaticString) {
        append(text.utf8Start, count: text.utf8CodeUnitCount)
    }

    mutating func append(_ array: [UInt8]) {
        array.withUnsafeBytes { append($0) }
    }

    /// Makes room for `length` more bytes and returns where they go; the caller writes
    /// exactly `length` bytes there before the next call on this writer.
    @inline(__always)
    mutating func appendUninitialized(_ length: Int) -> UnsafeMutablePointer<UInt8> {
        if capacity &- count < length { grow(length) }
        let start = base + count
        count &+= length
        return start
    }

    @inline(never)
    mutating func grow(_ needed: Int) {
        let size = max(capacity * 2, count + needed, 64)
        if ownsMemory {
            // SAFETY: base came from malloc/realloc; realloc keeps the first `count` bytes.
            guard let memory = realloc(base, size) else { fatalError("out of memory allocating \(size) bytes") }
            base = memory.assumingMemoryBound(to: UInt8.self)
        } else {
            // SAFETY: the lent buffer holds `count` initialized bytes; it stays the lender's.
            guard let memory = malloc(size) else { fatalError("out of memory allocating \(size) bytes") }
            if count > 0 { memcpy(memory, base, count) }
            base = memory.assumingMemoryBound(to: UInt8.self)
            ownsMemory = true
        }
        capacity = size
    }

    /// Runs `body` with a writer that starts on the stack when `estimate` is small and
    /// is freed afterwards.
    static func withTemporary<R>(estimate: Int, _ body: (inout ByteWriter) -> R) -> R {
        withUnsafeTemporaryAllocation(byteCount: min(max(estimate, 256), 16_384), alignment: 16) { buffer in
            var writer = ByteWriter(borrowing: buffer)
            defer { writer.deallocate() }
            return body(&writer)
        }
    }

    /// Like `withTemporary`, then appends what `body` wrote to `out` in one call.
    static func withScratch(estimate: Int, appendingTo out: inout [UInt8], _ body: (inout ByteWriter) -> Void) {
        withTemporary(estimate: estimate) { writer in
            body(&writer)
            out.append(contentsOf: writer.bytes)
        }
    }
}
