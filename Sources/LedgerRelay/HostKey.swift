// Reads the host's Ed25519 private key file.
//
// TEMPORARY: the crypto branch's LedgerPosix/KeyFile.swift owns this format
// ("ledger-ed25519-private-key v1\n" + base64 of the 32-byte seed + "\n", mode
// 0600). Until it lands on main this strict reader stands in for
// KeyFile.readPrivateKey; once it does, `HostKey.load` becomes one call to it.

import LedgerCore
import LedgerPosix

/// The host's signing key, as the relay loads it at start.
enum HostKey {
    static let header = "ledger-ed25519-private-key v1"

    /// Loads the private key at `path`, refusing files the group or others can access.
    static func load(path: String) throws -> Ed25519PrivateKey {
        let status: FileStatus
        do { status = try FileSystem.status(path) } catch {
            throw RelayError.key(path: path, reason: "\(error)")
        }
        guard status.kind == .regular else { throw RelayError.key(path: path, reason: "not a regular file") }
        guard status.permissions & 0o077 == 0 else {
            throw RelayError.key(path: path, reason: "mode \(String(status.permissions, radix: 8)) lets group or "
                                 + "others read it; chmod 600 \(path)")
        }
        let bytes: [UInt8]
        do { bytes = try FileSystem.readFile(path, limit: 128) } catch {
            throw RelayError.key(path: path, reason: "\(error)")
        }
        return try parse(bytes, path: path)
    }

    static func parse(_ bytes: [UInt8], path: String) throws -> Ed25519PrivateKey {
        let text = String(decoding: bytes, as: UTF8.self)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard text.hasSuffix("\n"), lines.count == 3, lines[0] == header else {
            throw RelayError.key(path: path, reason: "not a private key file (first line must be '\(header)')")
        }
        do {
            let seed = try Base64.decode(String(lines[1]), byteCount: 32, what: "private key")
            return try Ed25519PrivateKey(rawRepresentation: seed)
        } catch {
            throw RelayError.key(path: path, reason: "\(error)")
        }
    }
}
