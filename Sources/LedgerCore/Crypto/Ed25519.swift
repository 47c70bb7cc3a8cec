// Ed25519 (RFC 8032, "pure" EdDSA, no prehash, no context) through OpenSSL 3.
// Used to sign batches and checkpoints. Pinned by
// Tests/LedgerCoreTests/Ed25519Tests.swift with RFC 8032 §7.1 tests 1-3.
//
// Keys live inside libcrypto (EVP_PKEY); Swift code only sees the 32-byte
// encodings when it asks for them, e.g. to write a key file.

internal import CCrypto

/// An Ed25519 signing key.
///
/// Deliberately not `CustomStringConvertible` and not `Equatable`: printing or
/// comparing secret keys has no use here and is a way to leak them.
public struct Ed25519PrivateKey: Sendable {
    private let key: EVPPKey
    /// Derived once at construction; a public key never changes.
    public let publicKey: Ed25519PublicKey

    /// A new random key from OpenSSL's CSPRNG.
    public init() throws(CryptoError) {
        try self.init(key: .generateEd25519())
    }

    /// The key whose RFC 8032 private seed is `seed` (32 bytes).
    public init(rawRepresentation seed: [UInt8]) throws(CryptoError) {
        try self.init(key: .ed25519(privateSeed: seed))
    }

    private init(key: EVPPKey) throws(CryptoError) {
        self.key = key
        self.publicKey = try Ed25519PublicKey(rawRepresentation: key.rawBytes(private: false))
    }

    /// The 32-byte private seed. Handle with care: it is the whole secret.
    public var rawRepresentation: [UInt8] {
        do {
            return try key.rawBytes(private: true)
        } catch {
            // Reading back the seed of a key libcrypto itself built cannot fail
            // short of memory corruption; there is nothing sensible to return.
            fatalError("\(error)")
        }
    }

    /// The 64-byte Ed25519 signature of `message`. Deterministic: the same key
    /// and message always give the same bytes.
    public func signature(for message: [UInt8]) throws(CryptoError) -> [UInt8] {
        let context = try EVPMDContext()
        // Ed25519 hashes internally, so the digest argument must be NULL.
        guard EVP_DigestSignInit(context.pointer, nil, nil, nil, key.pointer) == 1 else {
            throw .libcrypto("EVP_DigestSignInit")
        }
        var signature = [UInt8](repeating: 0, count: 64)
        var length = signature.count
        // SAFETY: `signature` has `length` (64) writable bytes, the exact size
        // of an Ed25519 signature; the message pointer is valid for its count.
        let ok = signature.withUnsafeMutableBufferPointer { out in
            message.withNonNullBytes { bytes, count in
                EVP_DigestSign(context.pointer, out.baseAddress, &length, bytes, count)
            }
        }
        guard ok == 1 else { throw .libcrypto("EVP_DigestSign") }
        guard length == 64 else {
            throw .invalidLength(what: "Ed25519 signature from libcrypto", expected: 64, actual: length)
        }
        return signature
    }
}

/// An Ed25519 verification key. Equal and hashed by its 32-byte encoding.
public struct Ed25519PublicKey: Hashable, Sendable {
    private let raw: [UInt8]
    private let key: EVPPKey

    /// The key whose RFC 8032 encoding is `rawRepresentation` (32 bytes).
    public init(rawRepresentation: [UInt8]) throws(CryptoError) {
        self.key = try .ed25519(publicKey: rawRepresentation)
        self.raw = rawRepresentation
    }

    /// The key from the standard base64 (with padding) of its 32 bytes, as
    /// `base64` writes it. Only that exact spelling is accepted.
    public init(base64: String) throws(CryptoError) {
        try self.init(rawRepresentation: Base64.decode(base64, byteCount: 32, what: "Ed25519 public key"))
    }

    /// The 32-byte RFC 8032 encoding.
    public var rawRepresentation: [UInt8] { raw }

    /// Standard base64 (RFC 4648 §4, with padding) of the 32 bytes: 44 characters.
    public var base64: String { Base64.encode(raw) }

    /// Whether `signature` is this key's valid Ed25519 signature of `message`.
    /// Anything but a 64-byte signature is invalid. A libcrypto failure
    /// (memory exhaustion) also reads as invalid: a verifier must fail closed.
    public func isValidSignature(_ signature: [UInt8], for message: [UInt8]) -> Bool {
        guard signature.count == 64 else { return false }
        guard let context = try? EVPMDContext() else { return false }
        defer {
            // A rejected signature leaves entries on this thread's error queue;
            // clear them so they are not reported against a later failure.
            ERR_clear_error()
        }
        guard EVP_DigestVerifyInit(context.pointer, nil, nil, nil, key.pointer) == 1 else { return false }
        // SAFETY: both pointers are valid for their counts for the call.
        let result = signature.withUnsafeBufferPointer { sig in
            message.withNonNullBytes { bytes, count in
                EVP_DigestVerify(context.pointer, sig.baseAddress, sig.count, bytes, count)
            }
        }
        return result == 1
    }

    public static func == (lhs: Ed25519PublicKey, rhs: Ed25519PublicKey) -> Bool {
        lhs.raw == rhs.raw
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(raw)
    }
}

extension Ed25519PublicKey: CustomStringConvertible {
    public var description: String { "Ed25519PublicKey(\(base64))" }
}
