import Glibc
import LedgerCore
import Testing

@testable import LedgerPosix

/// A fresh private directory per test, removed afterwards.
private final class TemporaryDirectory {
    let path: String

    init() {
        var template = Array("/tmp/ledger-keyfile-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(made != nil, "mkdtemp failed: errno \(errno)")
        path = String(cString: template)
    }

    func file(_ name: String) -> String { "\(path)/\(name)" }

    deinit {
        if let dir = opendir(path) {
            while let entry = readdir(dir) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) {
                    String(cString: $0.bindMemory(to: CChar.self).baseAddress!)
                }
                if name != "." && name != ".." { unlink(file(name)) }
            }
            closedir(dir)
        }
        rmdir(path)
    }
}

private func modeOf(_ path: String) -> UInt32 {
    var info = stat()
    precondition(stat(path, &info) == 0)
    return UInt32(info.st_mode & 0o7777)
}

private func readKeyText(_ path: String) -> String {
    let fd = open(path, O_RDONLY)
    precondition(fd >= 0)
    defer { close(fd) }
    var buffer = [UInt8](repeating: 0, count: 4096)
    let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
    return String(decoding: buffer.prefix(count), as: UTF8.self)
}

private func writeFile(_ path: String, _ text: String, mode: mode_t = 0o600) {
    let fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, mode)
    precondition(fd >= 0)
    let bytes = Array(text.utf8)
    precondition(bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } == bytes.count)
    fchmod(fd, mode)
    close(fd)
}

/// Serialized: one test changes the process-wide umask.
@Suite(.serialized) struct KeyFileTests {
    let seed: [UInt8] = (0..<32).map { UInt8($0 &* 7 &+ 1) }

    @Test func privateKeyRoundTripsThroughTheTextFormat() throws {
        let dir = TemporaryDirectory()
        let key = try Ed25519PrivateKey(rawRepresentation: seed)
        let path = dir.file("signing.key")
        try KeyFile.writePrivateKey(key, to: path)
        #expect(modeOf(path) == 0o600)
        #expect(readKeyText(path) == "ledger-ed25519-private-key v1\n\(Self.validLine)\n")
        let read = try KeyFile.readPrivateKey(at: path)
        #expect(read.rawRepresentation == seed)
        #expect(read.publicKey == key.publicKey)
    }

    @Test func publicKeyRoundTripsThroughTheTextFormat() throws {
        let dir = TemporaryDirectory()
        let key = try Ed25519PrivateKey(rawRepresentation: seed).publicKey
        let path = dir.file("signing.pub")
        try KeyFile.writePublicKey(key, to: path)
        #expect(modeOf(path) == 0o644)
        #expect(readKeyText(path) == "ledger-ed25519-public-key v1\n\(key.base64)\n")
        #expect(try KeyFile.readPublicKey(at: path) == key)
    }

    @Test func privateKeyFileIsCreated0600EvenWithUmaskZero() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("k")
        let old = umask(0)
        defer { umask(old) }
        try KeyFile.writePrivateKey(Ed25519PrivateKey(), to: path)
        #expect(modeOf(path) == 0o600)
    }

    @Test func publicKeyFileIs0644WhateverTheUmask() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("k.pub")
        let old = umask(0o077)
        defer { umask(old) }
        try KeyFile.writePublicKey(Ed25519PrivateKey().publicKey, to: path)
        #expect(modeOf(path) == 0o644)
    }

    @Test(arguments: [0o640, 0o644, 0o604, 0o660, 0o606, 0o610, 0o601, 0o770, 0o777])
    func privateKeyAccessibleToGroupOrOthersIsRefusedNamingPathAndMode(mode: Int) throws {
        let dir = TemporaryDirectory()
        let path = dir.file("k")
        try KeyFile.writePrivateKey(Ed25519PrivateKey(rawRepresentation: seed), to: path)
        #expect(chmod(path, mode_t(mode)) == 0)
        #expect(throws: KeyFileError.insecureMode(path: path, mode: UInt32(mode))) {
            try KeyFile.readPrivateKey(at: path)
        }
        let octal = "0" + String(mode, radix: 8)
        #expect(
            "\(KeyFileError.insecureMode(path: path, mode: UInt32(mode)))"
                == "key file \(path) has mode \(octal); it must not be readable by group or others (chmod 600 \(path))")
    }

    @Test(arguments: [0o600, 0o400])
    func ownerOnlyModesAreAccepted(mode: Int) throws {
        let dir = TemporaryDirectory()
        let path = dir.file("k")
        try KeyFile.writePrivateKey(Ed25519PrivateKey(rawRepresentation: seed), to: path)
        #expect(chmod(path, mode_t(mode)) == 0)
        #expect(try KeyFile.readPrivateKey(at: path).rawRepresentation == seed)
    }

    @Test func existingFilesAreNeverOverwritten() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("k")
        let first = try Ed25519PrivateKey()
        try KeyFile.writePrivateKey(first, to: path)
        #expect(throws: KeyFileError.alreadyExists(path: path)) {
            try KeyFile.writePrivateKey(Ed25519PrivateKey(), to: path)
        }
        #expect(throws: KeyFileError.alreadyExists(path: path)) {
            try KeyFile.writePublicKey(first.publicKey, to: path)
        }
        #expect(try KeyFile.readPrivateKey(at: path).rawRepresentation == first.rawRepresentation)
        // A symlink at the path, even a dangling one, is not followed.
        let link = dir.file("link")
        #expect(symlink(dir.file("absent"), link) == 0)
        #expect(throws: KeyFileError.alreadyExists(path: link)) { try KeyFile.writePrivateKey(first, to: link) }
        #expect(access(dir.file("absent"), F_OK) != 0)
    }

    @Test func nonRegularFilesAreRefused() throws {
        let dir = TemporaryDirectory()
        #expect(throws: KeyFileError.notRegularFile(path: dir.path)) { try KeyFile.readPrivateKey(at: dir.path) }
        let fifo = dir.file("fifo")
        #expect(mkfifo(fifo, 0o600) == 0)
        // Must refuse at once, not block waiting for a writer.
        #expect(throws: KeyFileError.notRegularFile(path: fifo)) { try KeyFile.readPrivateKey(at: fifo) }
        #expect(throws: KeyFileError.notRegularFile(path: fifo)) { try KeyFile.readPublicKey(at: fifo) }
    }

    @Test func missingFileNamesThePathAndErrno() throws {
        let path = "/nonexistent-ledger-dir/k"
        #expect(throws: KeyFileError.system(path: path, operation: "open", errno: ENOENT)) {
            try KeyFile.readPrivateKey(at: path)
        }
        let key = try Ed25519PrivateKey(rawRepresentation: seed)
        #expect(throws: KeyFileError.system(path: path, operation: "open", errno: ENOENT)) {
            try KeyFile.writePrivateKey(key, to: path)
        }
    }

    /// Standard base64 of `seed` (bytes 01 08 0f … da), computed with Python's base64.
    static let validLine = "AQgPFh0kKzI5QEdOVVxjanF4f4aNlJuiqbC3vsXM09o="
    static let malformed: [(name: String, text: String)] = [
        ("empty", ""),
        ("garbage", "hello world\n"),
        ("binary", "\u{0}\u{1}\u{2}\n"),
        ("no final newline", "ledger-ed25519-private-key v1\n\(validLine)"),
        ("CRLF", "ledger-ed25519-private-key v1\r\n\(validLine)\r\n"),
        ("extra blank line", "ledger-ed25519-private-key v1\n\(validLine)\n\n"),
        ("header only", "ledger-ed25519-private-key v1\n"),
        ("wrong version", "ledger-ed25519-private-key v2\n\(validLine)\n"),
        ("public header", "ledger-ed25519-public-key v1\n\(validLine)\n"),
        ("leading space", "ledger-ed25519-private-key v1\n \(validLine)\n"),
        ("no padding", "ledger-ed25519-private-key v1\n\(validLine.dropLast())\n"),
        ("short key", "ledger-ed25519-private-key v1\nAAAA\n"),
        ("non-ASCII", "ledger-ed25519-private-key v1\n\(validLine.dropLast(2))\u{e9}=\n"),
        (
            "PEM",
            "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIAEIDxYdJCsyOUBHTlVcY2pxeH+GjZSbIqmwt77FzNPi\n"
                + "-----END PRIVATE KEY-----\n"
        ),
        ("huge", String(repeating: "A", count: 100_000)),
    ]

    @Test func validLineIsTheBase64OfTheSeed() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("k")
        writeFile(path, "ledger-ed25519-private-key v1\n\(Self.validLine)\n")
        #expect(try KeyFile.readPrivateKey(at: path).rawRepresentation == seed)
    }

    @Test(arguments: malformed.indices)
    func malformedPrivateKeyFilesAreRejectedNamingThePath(_ index: Int) throws {
        let dir = TemporaryDirectory()
        let path = dir.file("k")
        writeFile(path, Self.malformed[index].text)
        #expect("\(Self.malformed[index].name)".isEmpty == false)
        #expect {
            try KeyFile.readPrivateKey(at: path)
        } throws: { error in
            guard case .malformed(let named, _)? = error as? KeyFileError else { return false }
            return named == path && "\(error)".hasPrefix("key file \(path) is malformed: ")
        }
    }

    @Test func privateKeyFileIsNotReadAsAPublicKey() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("k")
        try KeyFile.writePrivateKey(Ed25519PrivateKey(rawRepresentation: seed), to: path)
        let expected = KeyFileError.malformed(
            path: path, reason: "it holds a private key, expected first line 'ledger-ed25519-public-key v1'")
        #expect(throws: expected) { try KeyFile.readPublicKey(at: path) }
    }
}
