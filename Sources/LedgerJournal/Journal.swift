// LedgerJournal: the host journal, ledgerd's durable record of every record it
// sealed, read by ledger-relay (to forward) and ledgerctl (export, tail).
//
// Design constraints (ARCHITECTURE.md invariants 1, 2, 5):
// - A writer is told `ok` only after its record is on disk: the daemon calls
//   `JournalWriter.sync()` (fdatasync) before it releases any response.
// - Readers never see a record that could still be lost: they stop at the durable
//   checkpoint, which is written only after the fdatasync that covers it.
// - Nothing is dropped silently: a torn tail is cut (it was never acknowledged),
//   a damaged segment is moved to quarantine/ and reported, never deleted.
//
// INVARIANT: host_seq runs +1 from frame to frame inside a segment, and a
// segment's name and header carry its first host_seq. The checkpoint never
// names a host_seq that is not durable (it may lag after a crash, never lead).
//
// On-disk layout (docs/JOURNAL.md has the byte-by-byte version; the format is
// pinned by Tests/LedgerJournalTests/JournalFormatTests.swift):
//
//   <data-dir>/journal/
//     segment-00000000000000000001.log   header + frames, first host_seq in the name
//     segment-00000000000000052117.log
//     durable                            24-byte checkpoint: last durable host_seq
//     heads                              chain heads as of a host_seq (retention; recovery before a quarantine)
//     quarantine/                        damaged segments, moved aside at start
//
//   segment header:  "LDGRJNL\0" | u32 version | u32 header length | u64 first host_seq |
//                    u16 host_id length | host_id bytes | u32 CRC-32 of all preceding bytes
//   frame:           u32 record length | u32 CRC-32(host_seq bytes ‖ record) | u64 host_seq | record
//   (the last segment may be zero-filled past its frames: a zero length ends the written part)
//
// All integers little-endian. CRC-32 is zlib's (CRC-32/ISO-HDLC), not CRC-32C.

/// Sizes and names shared by the journal's writer, reader and recovery.
public enum Journal {
    /// The default size at which the writer starts a new segment.
    public static let defaultSegmentSize: Int64 = 64 << 20
    /// FORMAT.md §2: a whole record is at most 1 MiB in canonical form.
    public static let maxRecordBytes = 1 << 20
    /// The journal's subdirectory of the data directory.
    public static let directoryName = "journal"
    public static let quarantineName = "quarantine"
    public static let checkpointName = "durable"
    /// The largest host_seq a record can carry: FORMAT.md §1 admits only integers a double holds
    /// exactly, and recovery's reader refuses larger ones.
    public static let maxHostSeq: UInt64 = (1 << 53) - 1
}
