import LedgerCore

/// What an API key may do. `admin` implies the others.
public enum Scope: String, CaseIterable, Sendable {
    case writeEvents = "write:events"
    case readEvents = "read:events"
    case admin
}

/// A stored API key (never the secret: only its SHA-256 is stored).
public struct APIKeyEntry: Sendable, Equatable {
    /// Public id, recorded in `origin.key_id` of what the key writes.
    public var id: String
    public var name: String
    public var scopes: [Scope]
    public var createdAtMicros: Int64
    public var revoked: Bool

    public init(id: String, name: String, scopes: [Scope], createdAtMicros: Int64, revoked: Bool = false) {
        self.id = id
        self.name = name
        self.scopes = scopes
        self.createdAtMicros = createdAtMicros
        self.revoked = revoked
    }

    public func allows(_ scope: Scope) -> Bool { scopes.contains(scope) || scopes.contains(.admin) }
}

/// Generation and hashing of secrets shown once: API keys (`lk_…`) and enrollment tokens (`let_…`).
public enum Secrets {
    /// 32 random bytes from the system generator (getrandom), base64url without padding.
    public static func random(prefix: String, bytes: Int = 32) -> String {
        var generator = SystemRandomNumberGenerator()
        let raw = (0..<bytes).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return prefix + base64url(raw)
    }

    /// Lowercase hex SHA-256 of the secret's UTF-8 bytes: what the store keeps.
    public static func hash(_ secret: String) -> String {
        SHA256Hasher().hash(Array(secret.utf8)).hex
    }

    /// The public id of an API key: `k_` and the first 16 hex digits of its hash.
    public static func keyID(forHash hash: String) -> String { "k_" + hash.prefix(16) }

    public static func base64url(_ bytes: [UInt8]) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
        var out: [UInt8] = []
        var i = 0
        while i + 3 <= bytes.count {
            let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
            for shift in [18, 12, 6, 0] { out.append(alphabet[Int((n >> UInt32(shift)) & 63)]) }
            i += 3
        }
        let rest = bytes.count - i
        if rest > 0 {
            var n = UInt32(bytes[i]) << 16
            if rest == 2 { n |= UInt32(bytes[i + 1]) << 8 }
            out.append(alphabet[Int((n >> 18) & 63)])
            out.append(alphabet[Int((n >> 12) & 63)])
            if rest == 2 { out.append(alphabet[Int((n >> 6) & 63)]) }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

extension Store {
    /// Creates a key and returns the secret (shown once) with its entry.
    public func createAPIKey(name: String, scopes: [Scope]) throws -> (secret: String, entry: APIKeyEntry) {
        let secret = Secrets.random(prefix: "lk_")
        let hash = Secrets.hash(secret)
        let entry = APIKeyEntry(id: Secrets.keyID(forHash: hash), name: name, scopes: scopes,
                                createdAtMicros: nowMicros())
        try addAPIKey(entry, hash: hash)
        return (secret, entry)
    }

    /// Creates a one-time enrollment token valid for `validMicros`.
    public func createEnrollmentToken(validMicros: Int64 = 24 * 3600 * 1_000_000) throws -> String {
        let token = Secrets.random(prefix: "let_", bytes: 24)
        try addEnrollmentToken(hash: Secrets.hash(token), expiresAtMicros: nowMicros() + validMicros)
        return token
    }
}
