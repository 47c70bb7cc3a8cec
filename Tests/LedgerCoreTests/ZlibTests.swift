import Glibc
import Testing
@testable import LedgerCore

/// `count` bytes: random ones if `compressible` is false, else text-like
/// bytes from a small alphabet with repeats, which deflate actually shrinks.
private func payload(count: Int, compressible: Bool, seed: UInt64) -> [UInt8] {
    var rng = SplitMix64(seed: seed)
    if !compressible { return (0..<count).map { _ in UInt8.random(in: .min ... .max, using: &rng) } }
    let words = ["agent", "TOOL_CALL", "{\"k\":", "0", "1", " ", "\n", "success", "2026-02-17T10:30:00Z"]
    var out: [UInt8] = []
    out.reserveCapacity(count + 32)
    while out.count < count { out += Array(words.randomElement(using: &rng)!.utf8) }
    return Array(out.prefix(count))
}

/// The process's peak resident set size so far, in bytes.
private func peakResidentBytes() -> Int {
    var usage = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    return usage.ru_maxrss * 1024  // KiB on Linux
}

@Suite struct ZlibTests {
    static let sizes = [0, 1, 2, 100, 4095, 65_536, 65_537, 300_001, 5 * 1024 * 1024]

    @Test(arguments: sizes, [false, true])
    func roundTripRestoresTheInput(count: Int, compressible: Bool) throws {
        let seed = UInt64(count) &* 2 &+ (compressible ? 1 : 0)
        let input = payload(count: count, compressible: compressible, seed: seed)
        let compressed = try Zlib.compress(input)
        if compressible && count >= 4095 { #expect(compressed.count < input.count / 2) }
        // Compared by digest: a failure then prints 64 hex digits, not 5 MiB.
        let expected = SHA256.hash(input)
        let restored = SHA256.hash(try Zlib.decompress(compressed, maxOutputBytes: count))
        #expect(restored == expected)
        let viaBuffer = try input.withUnsafeBytes { try Zlib.compress($0, level: 1) }
        let restoredViaBuffer = SHA256.hash(
            try viaBuffer.withUnsafeBytes { try Zlib.decompress($0, maxOutputBytes: count) })
        #expect(restoredViaBuffer == expected)
    }

    @Test(arguments: Array(Int32(-1)...9))
    func everyLevelRoundTrips(level: Int32) throws {
        let input = payload(count: 20_000, compressible: true, seed: 9)
        #expect(try Zlib.decompress(Zlib.compress(input, level: level), maxOutputBytes: input.count) == input)
    }

    @Test(arguments: [Int32(-2), 10, 100, .min])
    func invalidLevelsAreRejectedBeforeCallingZlib(level: Int32) {
        #expect(throws: ZlibError.invalidLevel(level)) { _ = try Zlib.compress([1, 2, 3], level: level) }
    }

    @Test func outputIsRFC1950ZlibFormat() throws {
        // Golden bytes from Python's zlib.compress(b"hello", 6): header 78 9c,
        // deflate data, Adler-32 062c0215 big-endian.
        let golden: [UInt8] = [0x78, 0x9c, 0xcb, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x06, 0x2c, 0x02, 0x15]
        #expect(try Zlib.compress(Array("hello".utf8)) == golden)
        for count in [0, 1000] {
            let compressed = try Zlib.compress(payload(count: count, compressible: true, seed: 1))
            #expect(compressed.first == 0x78)  // CM = 8 (deflate), CINFO = 7 (32 KiB window)
            #expect((UInt16(compressed[0]) << 8 | UInt16(compressed[1])) % 31 == 0)  // FCHECK
        }
    }

    @Test func gzipAndRawDeflateAreRejected() {
        // Python's gzip.compress(b"hello", mtime=0) and raw deflate (wbits -15).
        let gzipHello: [UInt8] = [
            0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0xcb, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00,
            0x86, 0xa6, 0x10, 0x36, 0x05, 0x00, 0x00, 0x00,
        ]
        let rawDeflateHello: [UInt8] = [0xcb, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]
        for input in [gzipHello, rawDeflateHello] {
            #expect(throws: ZlibError.corrupt("incorrect header check")) {
                _ = try Zlib.decompress(input, maxOutputBytes: 100)
            }
        }
    }

    @Test func limitIsInclusive() throws {
        let input = payload(count: 200_000, compressible: true, seed: 3)
        let compressed = try Zlib.compress(input)
        #expect(try Zlib.decompress(compressed, maxOutputBytes: input.count) == input)
        #expect(throws: ZlibError.outputTooLarge(limit: input.count - 1)) {
            _ = try Zlib.decompress(compressed, maxOutputBytes: input.count - 1)
        }
        // Growth is capped at the limit, never Array's doubling past it
        // (slack: malloc rounds large blocks up to whole pages).
        let exact = try Zlib.decompress(compressed, maxOutputBytes: input.count)
        #expect(exact.capacity <= input.count + 4096)
        #expect(try Zlib.decompress(Zlib.compress([]), maxOutputBytes: 0) == [])
        #expect(throws: ZlibError.outputTooLarge(limit: 0)) {
            _ = try Zlib.decompress(Zlib.compress([0]), maxOutputBytes: 0)
        }
    }

    /// 1 GiB of zeros, compressed by streaming one reused 1 MiB chunk through
    /// a Deflater, so the test never holds the gigabyte: about 1 MiB results.
    static let gibibyteOfZerosCompressed: [UInt8] = {
        let deflater = try! Deflater(level: 9)
        let zeros = [UInt8](repeating: 0, count: 1 << 20)
        var out: [UInt8] = []
        zeros.withUnsafeBytes { chunk in
            for _ in 0..<1024 { try! deflater.compress(chunk, finish: false) { out.append(contentsOf: $0) } }
        }
        try! deflater.compress(UnsafeRawBufferPointer(start: nil, count: 0), finish: true) {
            out.append(contentsOf: $0)
        }
        return out
    }()

    @Test func zipBombStopsAtTheLimitWithoutAllocatingTheGibibyte() throws {
        let bomb = Self.gibibyteOfZerosCompressed
        #expect(bomb.count < 2 << 20)
        let limit = 8 << 20
        let peakBefore = peakResidentBytes()
        #expect(throws: ZlibError.outputTooLarge(limit: limit)) {
            _ = try Zlib.decompress(bomb, maxOutputBytes: limit)
        }
        // Coarse, process-wide guard (other tests run concurrently): an
        // implementation that inflated everything would add about 1 GiB.
        let growth = peakResidentBytes() - peakBefore
        #expect(growth < 128 << 20, "peak RSS grew by \(growth) bytes")
    }

    @Test func inflaterDeliversNoMoreThanOnePieceBeyondTheLimit() throws {
        // The precise form of the bound: the sink sees the output as it is
        // produced, in pieces of at most 64 KiB, and its throw stops inflate.
        let bomb = Self.gibibyteOfZerosCompressed
        let limit = 1 << 20
        var delivered = 0
        var largestPiece = 0
        #expect(throws: ZlibError.outputTooLarge(limit: limit)) {
            try bomb.withUnsafeBytes { input in
                try Inflater().decompress(input) { (piece) throws(ZlibError) in
                    delivered += piece.count
                    largestPiece = max(largestPiece, piece.count)
                    if delivered > limit { throw .outputTooLarge(limit: limit) }
                }
            }
        }
        #expect(largestPiece <= 64 * 1024)
        #expect(delivered <= limit + 64 * 1024)
    }

    @Test func truncatedInputIsCorrupt() throws {
        let compressed = try Zlib.compress(payload(count: 10_000, compressible: true, seed: 4))
        for keep in [0, 1, 2, compressed.count / 2, compressed.count - 4, compressed.count - 1] {
            #expect(throws: ZlibError.corrupt("truncated: the input ends before the zlib stream does"), "kept \(keep)") {
                _ = try Zlib.decompress(Array(compressed.prefix(keep)), maxOutputBytes: 1 << 20)
            }
        }
    }

    @Test func bytesAfterTheStreamAreTrailingData() throws {
        let compressed = try Zlib.compress(Array("hello".utf8))
        for trailer in [[0], [0x78], compressed] as [[UInt8]] {
            #expect(throws: ZlibError.trailingData) {
                _ = try Zlib.decompress(compressed + trailer, maxOutputBytes: 100)
            }
        }
    }

    static let corruptions: [(position: Int, expected: String?)] = [
        (0, "incorrect header check"),
        (1, "incorrect header check"),
        (-1, "incorrect data check"),  // last Adler-32 byte
        (-4, "incorrect data check"),  // first Adler-32 byte
        (200, nil),  // inside the deflate data: any corrupt message
    ]

    @Test(arguments: corruptions.indices)
    func flippedBytesAreCorrupt(_ index: Int) throws {
        let (position, expected) = Self.corruptions[index]
        var compressed = try Zlib.compress(payload(count: 10_000, compressible: true, seed: 5))
        compressed[position < 0 ? compressed.count + position : position] ^= 0x55
        #expect {
            _ = try Zlib.decompress(compressed, maxOutputBytes: 1 << 20)
        } throws: { error in
            guard case .corrupt(let message) = error as? ZlibError else { return false }
            return expected == nil || message == expected
        }
    }

    @Test(arguments: [1, 3, 4096])
    func chunkedFeedingMatchesOneShot(chunkLimit: Int) throws {
        // Stands in for inputs above 4 GiB, which zlib must take in pieces.
        let input = payload(count: 50_000, compressible: true, seed: 6)
        let chunked = try input.withUnsafeBytes { try Zlib.compress($0, level: 6, chunkLimit: chunkLimit) }
        #expect(chunked == (try Zlib.compress(input)))
        let restored = try chunked.withUnsafeBytes {
            try Zlib.decompress($0, maxOutputBytes: input.count, chunkLimit: chunkLimit)
        }
        #expect(restored == input)
        #expect(throws: ZlibError.trailingData) {
            try (chunked + [1]).withUnsafeBytes {
                _ = try Zlib.decompress($0, maxOutputBytes: 1 << 20, chunkLimit: chunkLimit)
            }
        }
    }
}

// Nested so the `--filter Zlib` the project runs also selects it.
extension ZlibTests {
    @Suite struct CRC32Tests {
        @Test func isCRC32ISOHDLCWithItsCheckValue() {
            #expect(CRC32.checksum(Array("123456789".utf8)) == 0xCBF4_3926)
            #expect(CRC32.checksum([]) == 0)
            #expect(CRC32.checksum(Array("hello".utf8)) == 0x3610_A686)  // as in the gzip trailer above
        }

        @Test func seedContinuesAPreviousChecksum() {
            let a = Array("12345".utf8)
            let b = Array("6789".utf8)
            #expect(CRC32.checksum(b, seed: CRC32.checksum(a)) == 0xCBF4_3926)
            #expect(CRC32.checksum([], seed: 0x1234_5678) == 0x1234_5678)
        }

        @Test(arguments: [1, 2, 7, 1000])
        func chunkedMatchesWhole(chunkLimit: Int) {
            let input = payload(count: 10_001, compressible: false, seed: 8)
            let chunked = input.withUnsafeBytes { CRC32.checksum($0, seed: 0, chunkLimit: chunkLimit) }
            #expect(chunked == CRC32.checksum(input))
        }
    }
}
