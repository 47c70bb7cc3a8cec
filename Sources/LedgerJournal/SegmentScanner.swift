// Sequential reading of one segment file's frames, shared by recovery (which
// reads whole segments, damage included) and JournalReader (which stops at the
// durable checkpoint).

import LedgerPosix

/// Reads frames from one segment file through a buffer, with pread (the file offset is
/// untouched, so a reader never disturbs the writer).
public final class SegmentScanner {
    public let path: String
    let descriptor: FileDescriptor
    public let header: Result<SegmentHeader, SegmentHeader.HeaderProblem>
    /// Where the first frame starts (the header's length), or 0 when the header is bad.
    public let framesStart: Int64

    private var buffer: [UInt8]
    /// File offset of `buffer[0]`.
    private var bufferOffset: Int64 = 0
    private var bufferCount = 0
    /// File offset of the next frame.
    public private(set) var offset: Int64
    /// How many times the buffer was (re)filled from the file.
    private var reads = 0

    /// The minimum buffer: one whole maximum-size frame.
    static let minimumBuffer = JournalFrame.headerLength + Journal.maxRecordBytes
    /// What JournalReader and recovery read per pread.
    public static let defaultBufferSize = 2 << 20

    public init(path: String, bufferSize: Int = defaultBufferSize) throws {
        self.path = path
        let fd = try FileDescriptor.open(path, .readOnly)
        var bytes = [UInt8](repeating: 0, count: max(bufferSize, Self.minimumBuffer))
        let count: Int
        do {
            count = try bytes.withUnsafeMutableBytes { try fd.pread(into: $0, at: 0) }
        } catch {
            try? fd.close()
            throw error
        }
        descriptor = fd
        buffer = bytes
        bufferCount = count
        header = bytes.withUnsafeBytes { SegmentHeader.decode(UnsafeRawBufferPointer(rebasing: $0[..<count])) }
        if case let .success(h) = header { framesStart = Int64(h.encodedLength) } else { framesStart = 0 }
        offset = framesStart
    }

    deinit { try? descriptor.close() }

    /// The file's current size.
    public func size() throws -> Int64 { try descriptor.size() }

    /// A frame the scanner returned: its place and validation outcome.
    public struct Frame {
        public var offset: Int64
        public var validation: FrameValidation
    }

    /// Validates the frame at the current offset against the bytes the file holds now, and
    /// calls `body` with its record bytes when it is valid. Advances past valid frames only.
    /// Returns nil at the exact end of the file.
    public func next(_ body: (UInt64, UnsafeRawBufferPointer) throws -> Void) throws -> Frame? {
        let readsBefore = reads
        // A header only partly buffered is read whole again, not completed: its buffered part may
        // be zeros read before the writer wrote there, and once this call has read, the check
        // below trusts what the buffer holds.
        try fill(from: offset, atLeast: JournalFrame.headerLength, keepingBuffered: false)
        if buffered(from: offset) == 0 { return nil }
        var validation = view(JournalFrame.validate)
        if case .valid = validation {
        } else if reads == readsBefore {
            // These bytes were read before this call, perhaps before the writer wrote them: a
            // zero-filled tail (docs/JOURNAL.md) is overwritten in place. Judge the file as it is now.
            try reload(from: offset)
            if buffered(from: offset) == 0 { return nil }
            validation = view(JournalFrame.validate)
        }
        if case let .torn(needed, _) = validation, needed > buffered(from: offset) {
            try fill(from: offset, atLeast: needed)
            validation = view(JournalFrame.validate)
        }
        let frame = Frame(offset: offset, validation: validation)
        if case let .valid(hostSeq, length) = validation {
            try view { frameBytes in
                try body(hostSeq, UnsafeRawBufferPointer(rebasing: frameBytes[JournalFrame.headerLength..<length]))
            }
            offset += Int64(length)
        }
        return frame
    }

    /// Whether every byte from `start` to the end of the file is zero: the zero-filled,
    /// not yet written part of a preallocated segment.
    public func restIsZero(from start: Int64) throws -> Bool {
        var position = start
        while true {
            try fill(from: position, atLeast: 1)
            let count = Int(bufferOffset + Int64(bufferCount) - position)
            if count <= 0 { return true }
            let zero: Bool = buffer.withUnsafeBytes { raw in
                isAllZero(UnsafeRawBufferPointer(rebasing: raw[Int(position - bufferOffset)..<bufferCount]))
            }
            if !zero { return false }
            position += Int64(count)
        }
    }

    /// Moves to `offset` (a frame boundary the caller knows, or a resync candidate).
    public func seek(to newOffset: Int64) { offset = newOffset }

    /// Searches byte by byte after a damaged frame for the next frame that validates with a
    /// host_seq in `plausible`, so that recovery can count what follows damage. Returns its
    /// offset, or nil when none does before the end of the file.
    public func resync(from start: Int64, plausible: ClosedRange<UInt64>) throws -> Int64? {
        var candidate = start
        let end = try size()
        while candidate + Int64(JournalFrame.headerLength) <= end {
            try fill(from: candidate, atLeast: JournalFrame.headerLength)
            let hit: Bool = buffer.withUnsafeBytes { raw in
                let at = Int(candidate - bufferOffset)
                let bytes = UnsafeRawBufferPointer(rebasing: raw[at..<bufferCount])
                let length = Int(loadLE(UInt32.self, bytes, 0))
                // Cheap tests first: a plausible length and host_seq before computing a CRC.
                guard length > 0, length <= Journal.maxRecordBytes,
                      candidate + Int64(JournalFrame.headerLength + length) <= end,
                      plausible.contains(loadLE(UInt64.self, bytes, 8)) else { return false }
                return true
            }
            if !hit, let skip = zeroRun(at: candidate), skip > 4 {
                // A frame's length field has a non-zero byte among its first four, so a run of
                // zeros (a zero-filled tail) holds no frame start but in its last three bytes.
                candidate += Int64(skip - 3)
                continue
            }
            if hit {
                offset = candidate
                if let frame = try next({ _, _ in }), case .valid = frame.validation {
                    offset = candidate
                    return candidate
                }
            }
            candidate += 1
        }
        return nil
    }

    /// The number of zero bytes from `position` on within the buffer (nil when none are buffered).
    private func zeroRun(at position: Int64) -> Int? {
        guard position >= bufferOffset, position < bufferOffset + Int64(bufferCount) else { return nil }
        return buffer.withUnsafeBytes { raw in
            let start = Int(position - bufferOffset)
            var i = start
            while i + 8 <= bufferCount, raw.loadUnaligned(fromByteOffset: i, as: UInt64.self) == 0 { i += 8 }
            while i < bufferCount, raw[i] == 0 { i += 1 }
            return i - start
        }
    }

    /// Drops what the buffer holds and reads the file again from `position`.
    private func reload(from position: Int64) throws {
        bufferOffset = position
        bufferCount = 0
        try fill(from: position, atLeast: JournalFrame.headerLength)
    }

    private func view<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try buffer.withUnsafeBytes { raw in
            let at = Int(offset - bufferOffset)
            return try body(UnsafeRawBufferPointer(rebasing: raw[at..<bufferCount]))
        }
    }

    /// Makes sure the buffer holds the file from `position` on, at least `count` bytes of it
    /// when the file has them. When it must read, it keeps the bytes already buffered from
    /// `position` on and reads the rest behind them, unless `keepingBuffered` is false.
    private func fill(from position: Int64, atLeast count: Int, keepingBuffered: Bool = true) throws {
        let bufferEnd = bufferOffset + Int64(bufferCount)
        if position >= bufferOffset && position + Int64(count) <= bufferEnd { return }
        var kept = 0
        if keepingBuffered && position >= bufferOffset && position < bufferEnd {
            kept = Int(bufferEnd - position)
            let from = Int(position - bufferOffset)
            buffer.withUnsafeMutableBytes { raw in
                // SAFETY: both ranges lie inside the buffer; memmove semantics allow overlap.
                raw.baseAddress!.advanced(by: 0).copyMemory(from: raw.baseAddress!.advanced(by: from), byteCount: kept)
            }
        }
        let n = try buffer.withUnsafeMutableBytes { raw in
            try descriptor.pread(into: UnsafeMutableRawBufferPointer(rebasing: raw[kept...]), at: position + Int64(kept))
        }
        bufferOffset = position
        bufferCount = kept + n
        reads += 1
    }

    /// Bytes the buffer holds from `position` on.
    private func buffered(from position: Int64) -> Int { Int(bufferOffset + Int64(bufferCount) - position) }
}

@inline(__always)
private func isAllZero(_ bytes: UnsafeRawBufferPointer) -> Bool {
    var i = 0
    var acc: UInt64 = 0
    while i + 8 <= bytes.count {
        acc |= bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self)
        i += 8
    }
    while i < bytes.count {
        acc |= UInt64(bytes[i])
        i += 1
    }
    return acc == 0
}
