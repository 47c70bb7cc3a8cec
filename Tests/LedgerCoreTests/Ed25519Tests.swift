import Testing
@testable import LedgerCore

/// RFC 8032 §7.1, TEST 1 to TEST 3 (seed, public key, message, signature).
private let rfc8032Vectors: [(seed: String, publicKey: String, message: String, signature: String)] = [
    (
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
            + "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
    ),
    (
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        "72",
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
            + "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"
    ),
    (
        "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
        "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
        "af82",
        "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac"
            + "18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"
    ),
]

private func bytes(hex: String) -> [UInt8] {
    let digits = Array(hex.utf8)
    precondition(digits.count % 2 == 0)
    return stride(from: 0, to: digits.count, by: 2).map {
        UInt8(String(decoding: digits[$0..<$0 + 2], as: UTF8.self), radix: 16)!
    }
}

@Suite struct Ed25519Tests {
    @Test(arguments: rfc8032Vectors.indices)
    func seedGivesRFC8032PublicKeyAndSignature(_ index: Int) throws {
        let vector = rfc8032Vectors[index]
        let key = try Ed25519PrivateKey(rawRepresentation: bytes(hex: vector.seed))
        #expect(key.rawRepresentation == bytes(hex: vector.seed))
        #expect(key.publicKey.rawRepresentation == bytes(hex: vector.publicKey))
        let message = bytes(hex: vector.message)
        let signature = try key.signature(for: message)
        #expect(signature == bytes(hex: vector.signature))
        let publicKey = try Ed25519PublicKey(rawRepresentation: bytes(hex: vector.publicKey))
        #expect(publicKey == key.publicKey)
        #expect(publicKey.isValidSignature(signature, for: message))
    }

    @Test func generatedKeysSignAndVerifyAndDiffer() throws {
        let a = try Ed25519PrivateKey()
        let b = try Ed25519PrivateKey()
        #expect(a.rawRepresentation != b.rawRepresentation)
        #expect(a.publicKey != b.publicKey)
        let message = Array("batch 7".utf8)
        let signature = try a.signature(for: message)
        #expect(a.publicKey.isValidSignature(signature, for: message))
        #expect(!b.publicKey.isValidSignature(signature, for: message))
        let restored = try Ed25519PrivateKey(rawRepresentation: a.rawRepresentation)
        #expect(restored.publicKey == a.publicKey)
        #expect(try restored.signature(for: message) == signature)
    }

    @Test func verificationRejectsTamperedMessageSignatureOrWrongKey() throws {
        let vector = rfc8032Vectors[2]
        let key = try Ed25519PrivateKey(rawRepresentation: bytes(hex: vector.seed))
        let message = bytes(hex: vector.message)
        let signature = bytes(hex: vector.signature)
        #expect(key.publicKey.isValidSignature(signature, for: message))

        #expect(!key.publicKey.isValidSignature(signature, for: message + [0]))
        #expect(!key.publicKey.isValidSignature(signature, for: [message[0] ^ 1, message[1]]))
        #expect(!key.publicKey.isValidSignature(signature, for: []))
        for position in [0, 31, 32, 63] {
            var tampered = signature
            tampered[position] ^= 0x01
            #expect(!key.publicKey.isValidSignature(tampered, for: message), "bit flip at \(position)")
        }
        let other = try Ed25519PublicKey(rawRepresentation: bytes(hex: rfc8032Vectors[0].publicKey))
        #expect(!other.isValidSignature(signature, for: message))
    }

    @Test func verificationRejectsWrongSignatureLengths() throws {
        let key = try Ed25519PrivateKey(rawRepresentation: bytes(hex: rfc8032Vectors[1].seed))
        let message = [UInt8(0x72)]
        let signature = try key.signature(for: message)
        for bad in [[], Array(signature.dropLast()), signature + [0], signature + signature] {
            #expect(!key.publicKey.isValidSignature(bad, for: message), "length \(bad.count)")
        }
    }

    @Test(arguments: [0, 1, 31, 33, 64])
    func keysOfWrongLengthAreRejected(_ count: Int) {
        let raw = [UInt8](repeating: 7, count: count)
        #expect(throws: CryptoError.invalidLength(what: "Ed25519 private key seed", expected: 32, actual: count)) {
            try Ed25519PrivateKey(rawRepresentation: raw)
        }
        #expect(throws: CryptoError.invalidLength(what: "Ed25519 public key", expected: 32, actual: count)) {
            try Ed25519PublicKey(rawRepresentation: raw)
        }
    }

    @Test func publicKeyBase64RoundTrips() throws {
        let key = try Ed25519PublicKey(rawRepresentation: bytes(hex: rfc8032Vectors[0].publicKey))
        // Computed independently: printf d75a…511a | xxd -r -p | base64
        #expect(key.base64 == "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=")
        #expect(try Ed25519PublicKey(base64: key.base64) == key)
        #expect(key.description.contains(key.base64))
    }

    static let badBase64: [String] = [
        "",
        "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo",  // padding missing
        "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo==",  // extra padding
        "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n",  // trailing newline
        " 11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",  // leading space
        "11qYAYKxCrfVS/7TyWQH Og7hcvPapiMlrwIaaPcHURo=",  // inner space
        "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo=",  // base64url alphabet
        "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURp=",  // non-zero trailing bits
        "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHU===",  // too much padding
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",  // 36 bytes
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==",  // 31 bytes, 44 characters
        "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHUR\u{e9}=",
    ]

    @Test(arguments: badBase64)
    func publicKeyBase64IsStrict(_ text: String) {
        #expect {
            try Ed25519PublicKey(base64: text)
        } throws: { error in
            guard case .invalidBase64(let what, _) = error as? CryptoError else { return false }
            return what == "Ed25519 public key"
        }
    }
}
