// Recovery's answer to records the checkpoint declared durable but no segment
// holds any more (docs/JOURNAL.md, "Lost durable records").
//
// The checkpoint is written only after the fdatasync that covers it, so a
// stream that ends before it means acknowledged records are gone from the disk
// (a lost write, a disk that zeroed or dropped blocks, a file cut by hand). That
// can never pass silently (ARCHITECTURE.md invariant 5): it is logged as an
// error and reported, and the lost host_seq values are never handed out again.
// Handed out again, they would name other records: a relay whose cursor is past
// them would skip those records for good, and one behind them would forward a
// stream in which the loss no longer shows. Kept as a gap, the relay reports it
// and the server records a host_gap incident.

import LedgerPosix

/// Where recovery stopped finding records in a segment, and what it found there.
struct StreamEnd {
    var path: String
    var offset: Int64
    var found: String
}

extension JournalRecovery {
    /// Logs and reports `missing`, the host_seq values after the last one recovered up to the
    /// checkpoint, and cuts a zero tail off the last kept segment: the writer continues after
    /// the checkpoint in a new segment, and only the last segment may end in zeros.
    static func reportLostDurable(_ missing: ClosedRange<UInt64>, kept: [SegmentSummary], state: inout State) throws {
        let end = state.streamEnd
        state.log.error("acknowledged journal records are missing: the durable checkpoint is past the last record found", [
            "segment": end?.path ?? "none", "offset": end?.offset ?? 0, "found": end?.found ?? "no segment",
            "checkpoint_host_seq": missing.upperBound, "last_host_seq_found": missing.lowerBound - 1,
            "missing_host_seqs": missing.upperBound - missing.lowerBound + 1, "next_host_seq": missing.upperBound + 1])
        state.report.lostDurable = missing
        guard let last = kept.last, try FileSystem.status(last.file.path).size > last.size else { return }
        let fd = try FileDescriptor.open(last.file.path, .writeOnly)
        try fd.closeAfter {
            try fd.ftruncate(to: last.size)
            try fd.fsync()
        }
    }
}
