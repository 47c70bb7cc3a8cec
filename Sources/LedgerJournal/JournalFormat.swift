// INVARIANT: these layouts are frozen. A byte moved here makes every existing
// journal unreadable; a change needs a new format version and a reader for the
// old one. Tests/LedgerJournalTests/JournalFormatTests.swift pins them with
// golden bytes.

import LedgerCore

/// The header at offset 0 of every segment file.
///
/// Frozen layout, do not reorder:
/// ```
/// offset  size  field
///      0     8  magic "LDGRJNL\0"
///      8     4  format version (1), u32 LE
///     12     4  header length in bytes, including this header's CRC, u32 LE
///     16     8  first host_seq of the segment, u64 LE
///     24     2  host_id length n in bytes, u16 LE
///     26     n  host_id, UTF-8
///   26+n     4  CRC-32 of bytes 0..<26+n, u32 LE
/// ```
public struct SegmentHeader: Equatable, Sendable {
    public static let magic: [UInt8] = Array("LDGRJNL\0".utf8)
    public static let version: UInt32 = 1
    /// The fixed part before host_id.
    static let fixedLength = 26
    /// host_id is at most this long (FORMAT.md gives it no limit; 4 KiB keeps headers small).
    public static let maxHostIDBytes = 4096

    public var firstHostSeq: UInt64
    public var hostID: String

    public init(firstHostSeq: UInt64, hostID: String) {
        self.firstHostSeq = firstHostSeq
        self.hostID = hostID
    }

    /// The header's encoded length.
    public var encodedLength: Int { Self.fixedLength + hostID.utf8.count + 4 }

    public func encoded() -> [UInt8] {
        var out: [UInt8] = Self.magic
        let host = Array(hostID.utf8)
        precondition(host.count <= Self.maxHostIDBytes, "host_id is longer than \(Self.maxHostIDBytes) bytes")
        appendLE(Self.version, to: &out)
        appendLE(UInt32(Self.fixedLength + host.count + 4), to: &out)
        appendLE(firstHostSeq, to: &out)
        appendLE(UInt16(host.count), to: &out)
        out.append(contentsOf: host)
        appendLE(CRC32.checksum(out), to: &out)
        return out
    }

    /// Decodes a header from the start of `bytes` (which may hold more).
    public static func decode(_ bytes: UnsafeRawBufferPointer) -> Result<SegmentHeader, HeaderProblem> {
        guard bytes.count >= fixedLength else { return .failure(.truncated) }
        guard bytes.prefix(8).elementsEqual(magic) else { return .failure(.badMagic) }
        let version = loadLE(UInt32.self, bytes, 8)
        guard version == Self.version else { return .failure(.unsupportedVersion(version)) }
        let length = Int(loadLE(UInt32.self, bytes, 12))
        let hostLength = Int(loadLE(UInt16.self, bytes, 24))
        guard hostLength <= maxHostIDBytes, length == fixedLength + hostLength + 4 else { return .failure(.badLength) }
        guard bytes.count >= length else { return .failure(.truncated) }
        let calculated = CRC32.checksum(UnsafeRawBufferPointer(rebasing: bytes[..<(length - 4)]))
        let actual = loadLE(UInt32.self, bytes, length - 4)
        guard calculated == actual else { return .failure(.checksum(calculated: calculated, actual: actual)) }
        let host = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[fixedLength..<(fixedLength + hostLength)]),
                          as: UTF8.self)
        return .success(SegmentHeader(firstHostSeq: loadLE(UInt64.self, bytes, 16), hostID: host))
    }

    /// Why a segment header does not decode.
    public enum HeaderProblem: Error, Equatable, Sendable, CustomStringConvertible {
        /// The file ends inside the header (a crash while creating the segment).
        case truncated
        /// The file does not start with the journal magic: not a journal segment.
        case badMagic
        /// A format version this build cannot read (written by a newer ledgerd).
        case unsupportedVersion(UInt32)
        /// The header length field disagrees with the host_id length.
        case badLength
        /// The header's CRC does not match its bytes.
        case checksum(calculated: UInt32, actual: UInt32)

        public var description: String {
            switch self {
            case .truncated: return "header truncated"
            case .badMagic: return "not a journal segment (bad magic)"
            case let .unsupportedVersion(v): return "unsupported format version \(v)"
            case .badLength: return "inconsistent header length"
            case let .checksum(c, a): return "header checksum mismatch (calculated \(hex32(c)), stored \(hex32(a)))"
            }
        }
    }
}

/// One record in a segment.
///
/// Frozen layout, do not reorder:
/// ```
/// offset  size  field
///      0     4  record length n, u32 LE (1 ... 1 MiB)
///      4     4  CRC-32 of bytes 8..<16+n (host_seq then record), u32 LE
///      8     8  host_seq, u64 LE
///     16     n  the record: JCS(record with hash), no newline
/// ```
/// The CRC covers host_seq so that a frame copied to the wrong place is caught.
public enum JournalFrame {
    public static let headerLength = 16

    /// Appends a frame whose record `write` appends to `out`; returns what `write` returned.
    /// The loop builds records straight into its batch buffer this way, without a copy.
    /// With `checksum: false` the CRC field stays 0 until `fillChecksums` runs over the batch:
    /// ledgerd leaves that to its journal thread, which otherwise only waits for fdatasync.
    @inline(__always)
    public static func append<R>(hostSeq: UInt64, into out: inout [UInt8], checksum: Bool = true,
                                 _ write: (inout [UInt8]) throws -> R) rethrows -> R {
        let start = out.count
        out.append(contentsOf: zeroHeader)
        let result: R
        do {
            result = try write(&out)
        } catch {
            out.removeSubrange(start...)
            throw error
        }
        seal(&out, at: start, hostSeq: hostSeq, checksum: checksum)
        return result
    }

    /// `append` in two steps, for a caller that writes the record itself between them (ledgerd's
    /// loop): handing `append` a typed-throws closure cost a heap allocation per record.
    /// Returns where the frame starts; give it to `finish`, or cut `out` back to it if no
    /// record was written.
    @inline(__always)
    public static func begin(into out: inout [UInt8]) -> Int {
        let start = out.count
        out.append(contentsOf: zeroHeader)
        return start
    }

    /// Fills in the header of the frame `begin` started, whose record runs to the end of `out`.
    @inline(__always)
    public static func finish(_ out: inout [UInt8], at start: Int, hostSeq: UInt64, checksum: Bool = true) {
        seal(&out, at: start, hostSeq: hostSeq, checksum: checksum)
    }

    /// Computes the CRC of every frame in `frames` (whole frames back to back, as `append` with
    /// `checksum: false` left them).
    public static func fillChecksums(_ frames: UnsafeMutableRawBufferPointer) {
        var at = 0
        while at < frames.count {
            let length = Int(UInt32(littleEndian: frames.loadUnaligned(fromByteOffset: at, as: UInt32.self)))
            let end = at + headerLength + length
            precondition(length > 0 && end <= frames.count, "not a whole frame at offset \(at)")
            let crc = CRC32.checksum(UnsafeRawBufferPointer(rebasing: frames[(at + 8)..<end]))
            frames.storeBytes(of: crc.littleEndian, toByteOffset: at + 4, as: UInt32.self)
            at = end
        }
    }

    /// Appends a frame holding `record`.
    public static func append(record: UnsafeRawBufferPointer, hostSeq: UInt64, into out: inout [UInt8]) {
        append(hostSeq: hostSeq, into: &out) { $0.append(contentsOf: record) }
    }

    /// Fills in the header of the frame starting at `start`, whose record runs to the end of `out`.
    static func seal(_ out: inout [UInt8], at start: Int, hostSeq: UInt64, checksum: Bool = true) {
        let length = out.count - start - headerLength
        precondition(length > 0 && length <= Journal.maxRecordBytes, "record length \(length) out of range")
        out.withUnsafeMutableBytes { buffer in
            buffer.storeBytes(of: UInt32(length).littleEndian, toByteOffset: start, as: UInt32.self)
            buffer.storeBytes(of: hostSeq.littleEndian, toByteOffset: start + 8, as: UInt64.self)
            guard checksum else { return }
            let crc = CRC32.checksum(UnsafeRawBufferPointer(rebasing: buffer[(start + 8)...]))
            buffer.storeBytes(of: crc.littleEndian, toByteOffset: start + 4, as: UInt32.self)
        }
    }

    private static let zeroHeader = [UInt8](repeating: 0, count: headerLength)

    /// Checks the frame at the start of `bytes`, which runs to the end of the data available
    /// (the end of the file, when `bytes` holds the rest of it).
    public static func validate(_ bytes: UnsafeRawBufferPointer) -> FrameValidation {
        guard bytes.count >= headerLength else { return .torn(needed: headerLength, available: bytes.count) }
        let length = Int(loadLE(UInt32.self, bytes, 0))
        guard length > 0, length <= Journal.maxRecordBytes else { return .badLength(length) }
        guard bytes.count >= headerLength + length else {
            return .torn(needed: headerLength + length, available: bytes.count)
        }
        let actual = loadLE(UInt32.self, bytes, 4)
        let calculated = CRC32.checksum(UnsafeRawBufferPointer(rebasing: bytes[8..<(headerLength + length)]))
        guard calculated == actual else { return .corrupted(calculated: calculated, actual: actual) }
        return .valid(hostSeq: loadLE(UInt64.self, bytes, 8), length: headerLength + length)
    }
}

/// What `JournalFrame.validate` found. Not a Bool: recovery treats each case differently.
public enum FrameValidation: Equatable, Sendable {
    /// A whole frame with a matching CRC; `length` includes the 16-byte header.
    case valid(hostSeq: UInt64, length: Int)
    /// The data ends inside the frame: a write cut short by a crash (at the tail), or a
    /// truncated file (anywhere else).
    case torn(needed: Int, available: Int)
    /// The length field is 0 or above 1 MiB: zeroed or overwritten bytes.
    case badLength(Int)
    /// The frame is whole but its bytes do not match their CRC.
    case corrupted(calculated: UInt32, actual: UInt32)
}

@inline(__always)
func loadLE<T: FixedWidthInteger>(_: T.Type, _ bytes: UnsafeRawBufferPointer, _ offset: Int) -> T {
    T(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: T.self))
}

@inline(__always)
func appendLE<T: FixedWidthInteger>(_ value: T, to out: inout [UInt8]) {
    withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) }
}

func hex32(_ value: UInt32) -> String {
    let digits = String(value, radix: 16)
    return "0x" + String(repeating: "0", count: 8 - digits.count) + digits
}
