import LedgerPosix
#if canImport(Glibc)
import Glibc
#endif

/// Where hook events go while ledgerd cannot be reached: an append-only NDJSON file,
/// mode 0600, locked with flock(2) so concurrent hooks never interleave lines. Each
/// line is a complete event with its own `id`, so resending one that ledgerd did
/// receive after all is answered from ledgerd's retry window, not stored twice.
struct HookSpill {
    let path: String

    /// `$LEDGER_HOOK_SPILL`, else `$XDG_STATE_HOME/ledger/claude-code-spill.ndjson`,
    /// else `~/.local/state/ledger/claude-code-spill.ndjson`.
    static func defaultPath() -> String {
        if let path = Environment.get("LEDGER_HOOK_SPILL"), !path.isEmpty { return path }
        if let state = Environment.get("XDG_STATE_HOME"), !state.isEmpty { return state + "/ledger/claude-code-spill.ndjson" }
        let home = Environment.get("HOME").flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        return home + "/.local/state/ledger/claude-code-spill.ndjson"
    }

    private func directory() -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return String(path[..<slash])
    }

    /// Appends one event line.
    func append(_ event: [UInt8]) throws {
        try FileSystem.createDirectory(directory(), permissions: 0o700)
        let fd = try FileDescriptor.open(path, .writeOnly, options: [.create, .append], permissions: 0o600)
        defer { try? fd.close() }
        flock(fd.rawValue, LOCK_EX)
        try fd.write(event + [UInt8(ascii: "\n")])
    }

    /// Hands every spilled line to `send` (in order, under the lock) and empties the file when
    /// all were accepted. Returns how many lines were sent; nil when there is no spill file.
    func drain(_ send: ([[UInt8]]) -> Bool) throws -> Int? {
        guard FileSystem.exists(path) else { return nil }
        let fd = try FileDescriptor.open(path, .readWrite)
        defer { try? fd.close() }
        flock(fd.rawValue, LOCK_EX)
        let content = try FileSystem.readFile(path, limit: 1 << 30)
        let lines = content.split(separator: UInt8(ascii: "\n")).map(Array.init)
        if lines.isEmpty { return 0 }
        guard send(lines) else { return nil }
        try fd.ftruncate(to: 0)
        return lines.count
    }
}
