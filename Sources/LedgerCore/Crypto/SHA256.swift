// SHA-256 (FIPS 180-4) through OpenSSL 3's EVP interface.
//
// Record hashes are `lowercase hex(SHA-256(JCS(record without "hash")))`
// (docs/FORMAT.md §3), so this file is on the ingest hot path: one call per
// record of about 400 bytes. The digest is a 32-byte value type with no heap
// storage, and `SHA256Hasher` reuses one EVP_MD_CTX so a hash costs no
// allocation. Pinned by Tests/LedgerCoreTests/SHA256Tests.swift (FIPS 180-2
// appendix vectors).

internal import CCrypto

/// A SHA-256 digest: 32 bytes held inline, cheap to copy, compare and hash.
///
/// The all-zero digest is the `prev_hash` of a chain's first record.
public struct SHA256Digest: Hashable, Sendable {
    /// The 32 digest bytes in order (big-endian as SHA-256 writes them); the
    /// words are raw memory, not numbers. A homogeneous tuple is laid out
    /// contiguously, which `withUnsafeBytes` relies on.
    private var storage: (UInt64, UInt64, UInt64, UInt64)

    public static let byteCount = 32

    /// The digest of nothing at all: 32 zero bytes, hex "000…0". Used as the
    /// genesis `prev_hash`, never produced by hashing.
    public static let zero = SHA256Digest(storage: (0, 0, 0, 0))

    private init(storage: (UInt64, UInt64, UInt64, UInt64)) {
        self.storage = storage
    }

    /// A digest whose 32 bytes `body` writes (starting from zeros); lets C
    /// write straight into the inline storage.
    init(filling body: (UnsafeMutableRawBufferPointer) -> Void) {
        var storage: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        // SAFETY: the buffer is exactly the 32 bytes of `storage`, valid only
        // during `body`, which must not keep it.
        withUnsafeMutableBytes(of: &storage) { body($0) }
        self.storage = storage
    }

    /// The digest whose bytes are `bytes`; nil unless there are exactly 32.
    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == Self.byteCount else { return nil }
        self.init(filling: { out in
            for (index, byte) in bytes.enumerated() { out[index] = byte }
        })
    }

    /// Parses exactly 64 lowercase hex digits. Uppercase is rejected because the
    /// record format has one spelling of a hash and a verifier compares text.
    public init?(hex: some Collection<UInt8>) {
        guard hex.count == 2 * Self.byteCount else { return nil }
        // Record lines reach here as raw buffers, twice per record (validated, then read):
        // the iterator-and-Optional loop below cost ~3% of the server's ingest CPU (perf).
        if let parsed = hex.withContiguousStorageIfAvailable({ Self.parseHex(UnsafeRawBufferPointer($0)) }) {
            guard let parsed else { return nil }
            self = parsed
            return
        }
        var storage: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        // SAFETY: writes indices 0..<32 of `storage`'s 32 bytes.
        let ok = withUnsafeMutableBytes(of: &storage) { out -> Bool in
            var iterator = hex.makeIterator()
            for index in 0..<Self.byteCount {
                guard let high = iterator.next().flatMap(Self.nibble),
                    let low = iterator.next().flatMap(Self.nibble)
                else { return false }
                out[index] = high << 4 | low
            }
            return true
        }
        guard ok else { return nil }
        self.storage = storage
    }

    private static func parseHex(_ text: UnsafeRawBufferPointer) -> SHA256Digest? {
        var storage: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        var invalid: UInt8 = 0
        // SAFETY: `text` holds 64 bytes (checked by the caller); writes indices 0..<32 of
        // `storage`'s 32 bytes.
        withUnsafeMutableBytes(of: &storage) { out in
            for index in 0..<byteCount {
                let high = fastNibble(text[2 &* index]), low = fastNibble(text[2 &* index &+ 1])
                invalid |= (high | low) & 0xF0
                out[index] = high << 4 | (low & 0x0F)
            }
        }
        return invalid == 0 ? SHA256Digest(storage: storage) : nil
    }

    /// The nibble of a lowercase hex digit, or a value ≥ 0x10 for any other byte.
    @inline(__always)
    private static func fastNibble(_ char: UInt8) -> UInt8 {
        let digit = char &- UInt8(ascii: "0")
        if digit < 10 { return digit }
        let letter = char &- UInt8(ascii: "a")
        return letter < 6 ? letter &+ 10 : 0xF0
    }

    /// Parses exactly 64 lowercase hex digits (see `init?(hex:)` on bytes).
    public init?(hex: String) {
        self.init(hex: hex.utf8)
    }

    private static func nibble(_ char: UInt8) -> UInt8? {
        switch char {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return char &- UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return char &- UInt8(ascii: "a") &+ 10
        default: return nil
        }
    }

    /// Appends the 64 lowercase hex digits, the form a record's `hash` and
    /// `prev_hash` carry. Lets the canonical writer emit a hash without a String.
    public func appendHex(to output: inout [UInt8]) {
        // Formatting into a 64-byte stack buffer and appending once took this
        // from ~110 ns to ~25 ns per digest versus 64 single appends (release
        // build, measured with a throwaway ledger-bench loop).
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 2 * Self.byteCount) { text in
            withUnsafeBytes { bytes in
                for (index, byte) in bytes.enumerated() {
                    text[2 * index] = Self.hexDigit(byte >> 4)
                    text[2 * index + 1] = Self.hexDigit(byte & 0x0f)
                }
            }
            // SAFETY: every one of the 64 elements was written above.
            output.append(contentsOf: UnsafeBufferPointer(text))
        }
    }

    private static func hexDigit(_ nibble: UInt8) -> UInt8 {
        // 0x57 + 10 == "a"
        nibble < 10 ? 0x30 &+ nibble : 0x57 &+ nibble
    }

    /// The 64 lowercase hex digits.
    public var hex: String {
        var text: [UInt8] = []
        appendHex(to: &text)
        return String(decoding: text, as: UTF8.self)
    }

    /// The 32 digest bytes, as a new array.
    public var bytes: [UInt8] {
        withUnsafeBytes { Array($0) }
    }

    /// Calls `body` with the 32 digest bytes; the pointer must not escape.
    public func withUnsafeBytes<Result, Failure: Error>(
        _ body: (UnsafeRawBufferPointer) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        // SAFETY: `copy` is a local that outlives the call; the pointer is
        // handed to `body` only for its duration.
        var copy = storage
        return try Swift.withUnsafeBytes(of: &copy) { (raw) throws(Failure) -> Result in
            try body(raw)
        }
    }

    public static func == (lhs: SHA256Digest, rhs: SHA256Digest) -> Bool {
        lhs.storage.0 == rhs.storage.0 && lhs.storage.1 == rhs.storage.1
            && lhs.storage.2 == rhs.storage.2 && lhs.storage.3 == rhs.storage.3
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(storage.0)
        hasher.combine(storage.1)
        hasher.combine(storage.2)
        hasher.combine(storage.3)
    }
}

extension SHA256Digest: CustomStringConvertible {
    public var description: String { hex }
}

/// Computes SHA-256 digests, one message at a time, reusing a single OpenSSL
/// digest context so hashing allocates nothing.
///
/// Not Sendable: the context is mutable state. Give each thread or task its own.
///
/// libcrypto cannot fail SHA-256 on valid arguments; a failure means the
/// library is unusable (no default provider, out of memory), and the hasher
/// stops the process rather than return a digest that is not one.
public final class SHA256Hasher {
    /// Owned: EVP_MD_fetch result, freed with EVP_MD_free.
    private let md: OpaquePointer
    /// Owned: EVP_MD_CTX, freed with EVP_MD_CTX_free.
    private let ctx: OpaquePointer
    /// Whether `update` has begun a message that `finalize` has not ended.
    private var inProgress = false

    public init() {
        // Fetched once per hasher: EVP_sha256() would re-resolve the provider
        // implementation on every EVP_DigestInit_ex2.
        guard let md = EVP_MD_fetch(nil, "SHA256", nil) else {
            fatalError("libcrypto: cannot fetch SHA256: \(CryptoError.drainErrorQueue())")
        }
        guard let ctx = EVP_MD_CTX_new() else {
            EVP_MD_free(md)
            fatalError("libcrypto: EVP_MD_CTX_new failed: \(CryptoError.drainErrorQueue())")
        }
        self.md = md
        self.ctx = ctx
    }

    deinit {
        EVP_MD_CTX_free(ctx)
        EVP_MD_free(md)
    }

    /// SHA-256 of `bytes`. Discards any message begun with `update`.
    public func hash(_ bytes: UnsafeRawBufferPointer) -> SHA256Digest {
        begin()
        absorb(bytes)
        return finish()
    }

    /// SHA-256 of `bytes`. Discards any message begun with `update`.
    public func hash(_ bytes: [UInt8]) -> SHA256Digest {
        bytes.withUnsafeBytes { hash($0) }
    }

    /// Discards the message in progress, if any.
    public func reset() {
        inProgress = false
    }

    /// Appends `bytes` to the message in progress, starting one if needed.
    public func update(_ bytes: UnsafeRawBufferPointer) {
        if !inProgress { begin() }
        absorb(bytes)
    }

    /// Appends `bytes` to the message in progress, starting one if needed.
    public func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// Ends the message in progress and returns its digest (the digest of the
    /// empty message if nothing was added). The next `update` starts afresh.
    public func finalize() -> SHA256Digest {
        if !inProgress { begin() }
        return finish()
    }

    private func begin() {
        // On a context that already holds this md, OpenSSL 3 re-initialises
        // the provider state in place instead of reallocating it.
        guard EVP_DigestInit_ex2(ctx, md, nil) == 1 else {
            fatalError("libcrypto: EVP_DigestInit_ex2 failed: \(CryptoError.drainErrorQueue())")
        }
        inProgress = true
    }

    private func absorb(_ bytes: UnsafeRawBufferPointer) {
        // size_t takes any Int count, so no chunking is needed; an empty buffer
        // may have a nil base address, which EVP_DigestUpdate accepts with 0.
        guard !bytes.isEmpty else { return }
        // SAFETY: `bytes` is valid for its count for the duration of the call.
        guard EVP_DigestUpdate(ctx, bytes.baseAddress, bytes.count) == 1 else {
            fatalError("libcrypto: EVP_DigestUpdate failed: \(CryptoError.drainErrorQueue())")
        }
    }

    private func finish() -> SHA256Digest {
        inProgress = false
        var ok: Int32 = 0
        let digest = SHA256Digest(filling: { out in
            // SAFETY: `out` is the digest's 32 bytes, exactly EVP_MD_get_size
            // of SHA-256, which is what EVP_DigestFinal_ex writes.
            ok = EVP_DigestFinal_ex(ctx, out.baseAddress!.assumingMemoryBound(to: UInt8.self), nil)
        })
        guard ok == 1 else {
            fatalError("libcrypto: EVP_DigestFinal_ex failed: \(CryptoError.drainErrorQueue())")
        }
        return digest
    }
}

/// One-shot SHA-256 for code off the hot path. Each call sets up a context;
/// loops should hold a `SHA256Hasher` instead.
public enum SHA256 {
    public static func hash(_ bytes: [UInt8]) -> SHA256Digest {
        SHA256Hasher().hash(bytes)
    }
}
