// Owners for the libcrypto handles LedgerCore uses outside the SHA-256 hot
// path. Each frees its handle in deinit, so no early return or thrown error
// can leak one.

internal import CCrypto

/// An EVP_PKEY that is never modified after construction.
///
/// `@unchecked Sendable`: openssl-threads(7) allows any number of threads to
/// sign or verify with one EVP_PKEY at once as long as each uses its own
/// context and nobody mutates the key. This type has no mutating API and
/// every operation creates its own `EVPMDContext`.
final class EVPPKey: @unchecked Sendable {
    let pointer: OpaquePointer

    /// Takes ownership of `pointer`.
    init(taking pointer: OpaquePointer) {
        self.pointer = pointer
    }

    deinit {
        EVP_PKEY_free(pointer)
    }

    /// An Ed25519 key from its 32-byte private seed.
    static func ed25519(privateSeed seed: [UInt8]) throws(CryptoError) -> EVPPKey {
        guard seed.count == 32 else {
            throw .invalidLength(what: "Ed25519 private key seed", expected: 32, actual: seed.count)
        }
        // SAFETY: `seed` is 32 readable bytes for the call; OpenSSL copies them.
        let pointer = seed.withUnsafeBufferPointer {
            EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nil, $0.baseAddress, $0.count)
        }
        guard let pointer else { throw .libcrypto("EVP_PKEY_new_raw_private_key") }
        return EVPPKey(taking: pointer)
    }

    /// An Ed25519 key from its 32-byte public encoding.
    static func ed25519(publicKey raw: [UInt8]) throws(CryptoError) -> EVPPKey {
        guard raw.count == 32 else {
            throw .invalidLength(what: "Ed25519 public key", expected: 32, actual: raw.count)
        }
        // SAFETY: `raw` is 32 readable bytes for the call; OpenSSL copies them.
        let pointer = raw.withUnsafeBufferPointer {
            EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nil, $0.baseAddress, $0.count)
        }
        guard let pointer else { throw .libcrypto("EVP_PKEY_new_raw_public_key") }
        return EVPPKey(taking: pointer)
    }

    /// A fresh Ed25519 key from OpenSSL's CSPRNG. (EVP_PKEY_Q_keygen is
    /// variadic and so not callable from Swift; this is its non-variadic form.)
    static func generateEd25519() throws(CryptoError) -> EVPPKey {
        let context = try EVPPKeyContext(algorithm: "ED25519")
        guard EVP_PKEY_keygen_init(context.pointer) == 1 else { throw .libcrypto("EVP_PKEY_keygen_init") }
        var generated: OpaquePointer?
        guard EVP_PKEY_keygen(context.pointer, &generated) == 1, let generated else {
            throw .libcrypto("EVP_PKEY_keygen")
        }
        return EVPPKey(taking: generated)
    }

    /// The raw private or public encoding, which for Ed25519 is 32 bytes.
    func rawBytes(private isPrivate: Bool) throws(CryptoError) -> [UInt8] {
        var length = 32
        var out = [UInt8](repeating: 0, count: length)
        // SAFETY: `out` has `length` writable bytes; OpenSSL writes at most
        // `length` and stores the count it wrote back into `length`.
        let ok = out.withUnsafeMutableBufferPointer { buffer in
            isPrivate
                ? EVP_PKEY_get_raw_private_key(pointer, buffer.baseAddress, &length)
                : EVP_PKEY_get_raw_public_key(pointer, buffer.baseAddress, &length)
        }
        guard ok == 1 else {
            throw .libcrypto(isPrivate ? "EVP_PKEY_get_raw_private_key" : "EVP_PKEY_get_raw_public_key")
        }
        guard length == 32 else {
            throw .invalidLength(what: "Ed25519 raw key from libcrypto", expected: 32, actual: length)
        }
        return out
    }
}

/// An EVP_PKEY_CTX, used here only for key generation.
final class EVPPKeyContext {
    let pointer: OpaquePointer

    init(algorithm: String) throws(CryptoError) {
        guard let pointer = EVP_PKEY_CTX_new_from_name(nil, algorithm, nil) else {
            throw .libcrypto("EVP_PKEY_CTX_new_from_name(\(algorithm))")
        }
        self.pointer = pointer
    }

    deinit {
        EVP_PKEY_CTX_free(pointer)
    }
}

/// An EVP_MD_CTX for one sign or verify operation.
final class EVPMDContext {
    let pointer: OpaquePointer

    init() throws(CryptoError) {
        guard let pointer = EVP_MD_CTX_new() else { throw .libcrypto("EVP_MD_CTX_new") }
        self.pointer = pointer
    }

    deinit {
        EVP_MD_CTX_free(pointer)
    }
}

extension Array where Element == UInt8 {
    /// Like `withUnsafeBufferPointer`, but never passes a nil base address:
    /// several libcrypto entry points treat a NULL data pointer as "query the
    /// output size" rather than "empty input".
    func withNonNullBytes<Result>(_ body: (UnsafePointer<UInt8>, Int) -> Result) -> Result {
        if isEmpty {
            let placeholder: UInt8 = 0
            return withUnsafePointer(to: placeholder) { body($0, 0) }
        }
        return withUnsafeBufferPointer { body($0.baseAddress!, $0.count) }
    }
}
