// INVARIANT: the checkpoint names a host_seq only after the fdatasync that made
// every record up to it durable has returned. It may lag (a crash between the
// fdatasync and the pwrite), never lead. It is not fsynced itself for that
// reason: a stale value after power loss only makes readers wait for recovery.

import LedgerCore
import LedgerPosix

/// The `journal/durable` file: the last durable host_seq, rewritten in place with
/// one 24-byte pwrite after every group commit. Readers (ledger-relay, ledgerctl
/// tail) poll it and never read a frame past it.
///
/// Frozen layout, do not reorder:
/// ```
/// offset  size  field
///      0     8  magic "LDGRDUR1"
///      8     8  last durable host_seq, u64 LE (0: no record yet)
///     16     4  CRC-32 of bytes 0..<16, u32 LE
///     20     4  reserved, zero
/// ```
/// 24 bytes at offset 0 lie in one disk sector, so the pwrite is not torn in practice;
/// a reader that does see a bad CRC retries later.
public enum DurableCheckpoint {
    public static let length = 24
    static let magic: [UInt8] = Array("LDGRDUR1".utf8)

    public static func encode(_ hostSeq: UInt64) -> [UInt8] {
        var out = magic
        appendLE(hostSeq, to: &out)
        appendLE(CRC32.checksum(out), to: &out)
        appendLE(UInt32(0), to: &out)
        return out
    }

    /// The host_seq in an encoded checkpoint, or nil when the bytes are not one.
    public static func decode(_ bytes: [UInt8]) -> UInt64? {
        guard bytes.count == length, bytes.prefix(8).elementsEqual(magic) else { return nil }
        return bytes.withUnsafeBytes { raw -> UInt64? in
            let crc = CRC32.checksum(UnsafeRawBufferPointer(rebasing: raw[..<16]))
            guard crc == loadLE(UInt32.self, raw, 16) else { return nil }
            return loadLE(UInt64.self, raw, 8)
        }
    }

    /// Reads the checkpoint of the journal at `journalDirectory`: nil when there is none yet.
    public static func read(journalDirectory: String) throws -> UInt64? {
        let path = journalDirectory + "/" + Journal.checkpointName
        guard FileSystem.exists(path) else { return nil }
        let bytes = try FileSystem.readFile(path, limit: 4096)
        guard let value = decode(bytes) else { throw JournalError.badCheckpoint(path: path) }
        return value
    }
}

/// The writer's open checkpoint file.
final class CheckpointFile {
    let descriptor: FileDescriptor
    private(set) var value: UInt64

    /// Opens (creating it if needed) and writes `initial` at once, then syncs the file and
    /// its directory: a checkpoint always exists after start.
    init(journalDirectory: String, initial: UInt64) throws {
        let path = journalDirectory + "/" + Journal.checkpointName
        descriptor = try FileDescriptor.open(path, .readWrite, options: [.create], permissions: 0o640)
        value = initial
        try descriptor.setPermissions(0o640)
        try descriptor.pwrite(DurableCheckpoint.encode(initial), at: 0)
        try descriptor.ftruncate(to: Int64(DurableCheckpoint.length))
        try descriptor.fsync()
        try FileSystem.syncDirectory(journalDirectory)
    }

    /// Call only after the fdatasync that covers `hostSeq` returned.
    func publish(_ hostSeq: UInt64) throws {
        guard hostSeq != value else { return }
        try descriptor.pwrite(DurableCheckpoint.encode(hostSeq), at: 0)
        value = hostSeq
    }

    deinit { try? descriptor.close() }
}
