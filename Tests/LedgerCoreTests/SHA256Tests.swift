import Testing
@testable import LedgerCore

/// FIPS 180-2 appendix B (and the NIST "SHA-256 example" set).
private let fipsVectors: [(message: String, digest: String)] = [
    ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
    (
        "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
    ),
    (
        "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
        "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"
    ),
]

@Suite struct SHA256Tests {
    @Test(arguments: fipsVectors.indices)
    func hashMatchesFIPSVector(_ index: Int) {
        let (message, expected) = fipsVectors[index]
        let bytes = Array(message.utf8)
        #expect(SHA256.hash(bytes).hex == expected)
        let hasher = SHA256Hasher()
        #expect(hasher.hash(bytes).hex == expected)
        #expect(bytes.withUnsafeBytes { hasher.hash($0) }.hex == expected)
    }

    @Test func streamingOneMillionAMatchesFIPSVector() {
        let hasher = SHA256Hasher()
        let chunk = [UInt8](repeating: UInt8(ascii: "a"), count: 1000)
        for _ in 0..<1000 { hasher.update(chunk) }
        #expect(hasher.finalize().hex == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func streamingInUnevenPiecesEqualsOneShot() {
        let message = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        let hasher = SHA256Hasher()
        var start = 0
        for size in [0, 1, 63, 64, 65, 200, 0, 607] {
            hasher.update(Array(message[start..<start + size]))
            start += size
        }
        #expect(start == message.count)
        #expect(hasher.finalize() == SHA256.hash(message))
    }

    @Test func hasherIsReusableAfterFinalizeResetAndOneShot() {
        let hasher = SHA256Hasher()
        let abc = Array("abc".utf8)
        hasher.update(Array("garbage".utf8))
        hasher.reset()
        hasher.update(abc)
        #expect(hasher.finalize() == SHA256.hash(abc))
        // finalize ends the message: nothing added since means the empty message.
        #expect(hasher.finalize() == SHA256.hash([]))
        // A one-shot hash discards a half-built streamed message.
        hasher.update(Array("partial".utf8))
        #expect(hasher.hash(abc) == SHA256.hash(abc))
        #expect(hasher.finalize() == SHA256.hash([]))
    }

    @Test func hexRoundTripsAndIsLowercase() throws {
        let digest = SHA256.hash(Array("abc".utf8))
        let parsed = try #require(SHA256Digest(hex: digest.hex))
        #expect(parsed == digest)
        #expect(SHA256Digest(hex: Array(digest.hex.utf8)) == digest)
        #expect(digest.hex == digest.hex.lowercased())
        var out = Array("prefix:".utf8)
        digest.appendHex(to: &out)
        #expect(String(decoding: out, as: UTF8.self) == "prefix:" + digest.hex)
        #expect(digest.description == digest.hex)
    }

    /// The contiguous fast path and the element-by-element path must agree on every byte
    /// value at every position: only 0-9 and a-f are digits.
    @Test func hexParsingRejectsEveryNonDigitAtEveryPosition() throws {
        let digest = SHA256.hash(Array("abc".utf8))
        let text = Array(digest.hex.utf8)
        let digits = Set("0123456789abcdef".utf8)
        for position in [0, 1, 31, 32, 62, 63] {
            for value in 0...255 {
                var changed = text
                changed[position] = UInt8(value)
                let fast = changed.withUnsafeBytes { SHA256Digest(hex: $0) }
                let slow = SHA256Digest(hex: changed.lazy.map { $0 })  // not contiguous: the general path
                #expect(fast == slow, "byte \(value) at \(position)")
                #expect((fast != nil) == digits.contains(UInt8(value)), "byte \(value) at \(position)")
                if let fast { #expect(fast.hex == String(decoding: changed, as: UTF8.self)) }
            }
        }
        #expect(text.withUnsafeBytes { SHA256Digest(hex: $0) } == digest)
        #expect(SHA256Digest(hex: Array(text.dropLast())) == nil)
    }

    @Test func bytesRoundTripInOrder() throws {
        let digest = SHA256.hash(Array("abc".utf8))
        #expect(digest.bytes.count == 32)
        #expect(digest.bytes.prefix(4) == [0xba, 0x78, 0x16, 0xbf])
        #expect(digest.withUnsafeBytes { Array($0) } == digest.bytes)
        #expect(SHA256Digest(bytes: digest.bytes) == digest)
        #expect(SHA256Digest(bytes: digest.bytes.dropLast()) == nil)
    }

    @Test func zeroIsTheGenesisPrevHash() {
        #expect(SHA256Digest.zero.hex == String(repeating: "0", count: 64))
        #expect(SHA256Digest.zero.bytes == [UInt8](repeating: 0, count: 32))
        #expect(SHA256Digest(hex: String(repeating: "0", count: 64)) == .zero)
    }

    @Test func equalityAndHashingFollowTheBytes() {
        let a = SHA256.hash(Array("a".utf8))
        let b = SHA256.hash(Array("b".utf8))
        #expect(a != b)
        #expect(Set([a, b, SHA256.hash(Array("a".utf8))]).count == 2)
        // Digests that differ only in the last byte (last storage word).
        var bytes = a.bytes
        bytes[31] ^= 1
        #expect(SHA256Digest(bytes: bytes) != a)
    }

    static let badHex: [String] = [
        "",
        String(repeating: "0", count: 63),
        String(repeating: "0", count: 65),
        "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD",
        "Ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015aG",
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015a ",
        " a7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        "0xa7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015a",
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f2001\u{e9}",
    ]

    @Test(arguments: badHex)
    func hexParserRejects(_ text: String) {
        #expect(SHA256Digest(hex: text) == nil)
    }
}
