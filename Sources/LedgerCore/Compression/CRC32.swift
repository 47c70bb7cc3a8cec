// CRC-32 as zlib computes it: the CRC-32/ISO-HDLC parameters (polynomial
// 0x04C11DB7 reflected = 0xEDB88320, init 0xFFFFFFFF, reflected in and out,
// final xor 0xFFFFFFFF), the checksum of gzip, PNG and zip. Not CRC-32C
// (Castagnoli). Check value: CRC32("123456789") == 0xCBF43926, pinned in
// Tests/LedgerCoreTests/ZlibTests.swift.

internal import CZlib

public enum CRC32 {
    /// The CRC-32/ISO-HDLC of `bytes`. `seed` is a previous result to continue
    /// from: `checksum(b, seed: checksum(a)) == checksum(a + b)`; 0 starts afresh.
    public static func checksum(_ bytes: UnsafeRawBufferPointer, seed: UInt32 = 0) -> UInt32 {
        checksum(bytes, seed: seed, chunkLimit: Zlib.maxChunk)
    }

    /// The CRC-32/ISO-HDLC of `bytes`; see the buffer overload.
    public static func checksum(_ bytes: [UInt8], seed: UInt32 = 0) -> UInt32 {
        bytes.withUnsafeBytes { checksum($0, seed: seed) }
    }

    /// zlib's crc32 takes a 32-bit length, so longer input is fed in pieces;
    /// `chunkLimit` lets tests exercise that on small input.
    static func checksum(_ bytes: UnsafeRawBufferPointer, seed: UInt32, chunkLimit: Int) -> UInt32 {
        precondition(chunkLimit > 0 && chunkLimit <= Zlib.maxChunk)
        var crc = UInt(seed)
        var offset = 0
        while offset < bytes.count {
            let count = min(bytes.count - offset, chunkLimit)
            // SAFETY: `offset + count <= bytes.count`, and zlib only reads.
            crc = crc32(
                crc, bytes.baseAddress!.advanced(by: offset).assumingMemoryBound(to: UInt8.self), UInt32(count))
            offset += count
        }
        return UInt32(truncatingIfNeeded: crc)
    }
}
