// INVARIANT: after recovery every kept segment holds only whole, valid frames
// whose host_seq runs +1; the last one ends at its last valid frame; everything
// is fsynced before the checkpoint is rewritten; and the chain heads cover every
// record ever seen, quarantined ones included, so no sequence is handed out twice.
//
// Damage rules (docs/JOURNAL.md "Recovery"):
// - A torn or bad frame in the last segment is a torn tail, cut off, when no valid
//   frame follows it or it lies past the durable checkpoint: it was never acknowledged.
// - Anything else (damage in an older segment, or before valid frames the checkpoint
//   declared durable) is quarantined: the file moves to journal/quarantine/, its
//   readable frames still count for chain heads, and the error is logged and counted.
//   ledgerd never deletes it and never refuses to start because of it. Those heads are
//   stored in journal/heads before the file moves: no later start reads the file again.
// - A stream that ends before the durable checkpoint lost acknowledged records: logged,
//   counted, and their host_seq values are never reused (Journal+LostDurable.swift).

import LedgerCore
import LedgerPosix

/// A kept segment after recovery, or one the writer made.
public struct SegmentSummary: Equatable, Sendable {
    public var file: SegmentFile
    public var size: Int64
    /// The last host_seq in the segment; `file.firstHostSeq - 1` when it holds none.
    public var lastHostSeq: UInt64
    /// Last modification time, microseconds since the epoch (retention's age).
    public var modifiedMicros: Int64
}

/// A segment recovery moved aside.
public struct QuarantinedSegment: Equatable, Sendable {
    public var path: String
    public var reason: String
    /// Frames still readable in it; their chain positions are never reused.
    public var readableRecords: Int
}

/// What recovery found and what the writer continues from.
public struct RecoveryReport: Sendable {
    public var chains: HostChains
    public var segments: [SegmentSummary]
    public var quarantined: [QuarantinedSegment] = []
    public var truncatedBytes: Int64 = 0
    /// host_seq ranges missing between kept segments (left by quarantine).
    public var gaps: [ClosedRange<UInt64>] = []
    /// Records whose chain did not continue (after a gap).
    public var discontinuities = 0
    public var records = 0
    /// The checkpoint as found before recovery rewrote it; nil when there was none, or none
    /// recovery could believe (unreadable, or past `Journal.maxHostSeq`).
    public var checkpointFound: UInt64?
    /// host_seq values the checkpoint declared durable that no segment holds any more
    /// (docs/JOURNAL.md, "Lost durable records"). They are never handed out again.
    public var lostDurable: ClosedRange<UInt64>?

    /// How many host_seq values `lostDurable` holds (0 when none).
    public var lostDurableCount: UInt64 { lostDurable.map { $0.upperBound - $0.lowerBound + 1 } ?? 0 }
}

public enum JournalRecovery {
    /// Scans the journal under `paths`, repairs it as the damage rules say, and returns the
    /// state to continue from. `onRecord` sees every record kept in the journal, in order
    /// (ledgerd rebuilds its retry window from it). Throws only for configuration errors
    /// (another host's journal) and I/O failures.
    public static func recover(paths: JournalPaths, hostID: String, log: Logger,
                               onRecord: (RecordFacts) -> Void = { _ in }) throws -> RecoveryReport {
        guard !hostID.isEmpty, hostID.utf8.count <= SegmentHeader.maxHostIDBytes else {
            throw JournalError.invalidHostID(hostID)
        }
        try FileSystem.createDirectory(paths.dataDirectory, permissions: 0o750)
        try FileSystem.createDirectory(paths.journal, permissions: 0o750)
        try FileSystem.createDirectory(paths.quarantine, permissions: 0o750)
        FileSystem.removeStaleTemporaries(of: [ChainSnapshot.path(paths)], log: log)
        var snapshot = try ChainSnapshot.load(paths)
        var state = State(snapshot: snapshot, log: log)
        state.checkpoint = believableCheckpoint(paths, log: log)
        let files = try SegmentFile.list(in: paths.journal)
        var kept: [SegmentSummary] = []
        for (index, file) in files.enumerated() {
            if let summary = try recoverSegment(file, isLast: index == files.count - 1, paths: paths,
                                                hostID: hostID, state: &state, onRecord: onRecord) {
                if let previous = kept.last, summary.file.firstHostSeq > previous.lastHostSeq + 1 {
                    state.report.gaps.append((previous.lastHostSeq + 1)...(summary.file.firstHostSeq - 1))
                }
                kept.append(summary)
            }
        }
        snapshot = state.snapshot
        for gap in state.report.gaps {
            log.error("journal has a host_seq gap", ["from": gap.lowerBound, "to": gap.upperBound])
        }
        // A segment's name hands out every host_seq before it, even while it holds no frame yet
        // (a new segment after a quarantine or a loss): none of those is handed out again.
        var lastHostSeq = max(snapshot.hostSeq, kept.last?.lastHostSeq ?? 0)
        if let checkpoint = state.checkpoint, checkpoint > lastHostSeq {
            try reportLostDurable((lastHostSeq + 1)...checkpoint, kept: kept, state: &state)
            lastHostSeq = checkpoint
        }
        var report = state.report
        report.segments = kept
        report.chains = HostChains(hostID: hostID, lastHostSeq: lastHostSeq, heads: snapshot.heads)
        report.checkpointFound = state.checkpoint
        try FileSystem.syncDirectory(paths.journal)
        try FileSystem.syncDirectory(paths.quarantine)
        // Everything kept was fsynced above (truncations) or read back from disk: it is all
        // durable now, including frames a crash left written but unsynced.
        for segment in kept {
            let fd = try FileDescriptor.open(segment.file.path, .readOnly)
            try fd.closeAfter { try fd.fsync() }
        }
        _ = try CheckpointFile(journalDirectory: paths.journal, initial: lastHostSeq)
        return report
    }

    /// The checkpoint recovery holds the stream to: nil when there is none, or when it cannot be
    /// this journal's (both logged). Without one, lost durable records at the end go unnoticed at
    /// this start, which is why an unreadable one is not passed over in silence.
    static func believableCheckpoint(_ paths: JournalPaths, log: Logger) -> UInt64? {
        let value: UInt64?
        do {
            value = try DurableCheckpoint.read(journalDirectory: paths.journal)
        } catch {
            log.warn("the durable checkpoint is unreadable and is ignored: records lost from the end of the journal "
                     + "cannot be detected at this start", ["path": paths.checkpoint, "error": error])
            return nil
        }
        // No record can carry a host_seq past maxHostSeq, so ledgerd never declared one durable:
        // the file came from elsewhere. Believed, it would be reported as that many lost records
        // and number the next record where no reader accepts it (UInt64.max would overflow at every
        // start). Any smaller value is believed however far it runs past the segments: see
        // docs/JOURNAL.md, "A checkpoint far past the segments".
        if let value, value > Journal.maxHostSeq {
            log.error("the durable checkpoint names a host_seq no record can carry, and is ignored", [
                "path": paths.checkpoint, "checkpoint_host_seq": value, "max_host_seq": Journal.maxHostSeq])
            return nil
        }
        return value
    }

    struct State {
        var snapshot: ChainSnapshot
        let log: Logger
        var checkpoint: UInt64?
        var report = RecoveryReport(chains: HostChains(hostID: ""), segments: [])
        let reader = RecordFactsReader()
        /// Where the last segment read stopped yielding records, and what was there.
        var streamEnd: StreamEnd?
    }

    /// What a frame turned out to be.
    enum FrameVerdict {
        case good(RecordFacts)
        case damaged(String)
    }

    /// Checks a frame that passed its CRC: the expected host_seq, a valid record, our host.
    static func judge(hostSeq: UInt64, expected: UInt64?, record bytes: UnsafeRawBufferPointer,
                      hostID: String, reader: RecordFactsReader) -> FrameVerdict {
        if let expected, hostSeq != expected { return .damaged("host_seq \(hostSeq) where \(expected) was expected") }
        guard let record = reader.read(bytes) else {
            return .damaged("the frame at host_seq \(hostSeq) does not hold a record")
        }
        guard record.hostSeq == hostSeq else { return .damaged("frame host_seq \(hostSeq) holds record host_seq \(record.hostSeq)") }
        guard record.hostID == hostID else { return .damaged("record of host_id \(record.hostID)") }
        return .good(record)
    }

    static func recoverSegment(_ file: SegmentFile, isLast: Bool, paths: JournalPaths, hostID: String,
                               state: inout State, onRecord: (RecordFacts) -> Void) throws -> SegmentSummary? {
        let scanner = try SegmentScanner(path: file.path)
        let header: SegmentHeader
        switch scanner.header {
        case let .success(h): header = h
        case .failure(.truncated) where isLast:
            // The header is synced before any record goes in: a torn header holds no record.
            state.log.warn("removing a segment whose creation was cut short", ["path": file.path])
            try FileSystem.unlink(file.path)
            return nil
        case let .failure(problem):
            try quarantine(file, reason: "\(problem)", scanner: scanner, paths: paths, hostID: hostID, state: &state)
            return nil
        }
        guard header.hostID == hostID else {
            throw JournalError.hostMismatch(path: file.path, journal: header.hostID, configured: hostID)
        }
        guard header.firstHostSeq == file.firstHostSeq else {
            try quarantine(file, reason: "header says first host_seq \(header.firstHostSeq)", scanner: scanner,
                           paths: paths, hostID: hostID, state: &state)
            return nil
        }
        var expected = header.firstHostSeq
        var writtenEnd: Int64?
        var end: StreamEnd?
        while true {
            var verdict: FrameVerdict?
            let reader = state.reader
            guard let frame = try scanner.next({ hostSeq, bytes in
                verdict = judge(hostSeq: hostSeq, expected: expected, record: bytes, hostID: hostID, reader: reader)
            }) else { break }
            if case let .good(record)? = verdict {
                apply(record, state: &state)
                onRecord(record)
                state.report.records += 1
                expected += 1
                continue
            }
            if isLast, case .badLength(0) = frame.validation, try scanner.restIsZero(from: frame.offset) {
                // The zero-filled part of a preallocated segment that no frame reached yet: the
                // end of the stream, not damage. It stays for the writer to continue into.
                writtenEnd = frame.offset
                end = StreamEnd(path: file.path, offset: frame.offset, found: "zeros to the end of the file")
                break
            }
            let reason: String
            switch (frame.validation, verdict) {
            case (_, .damaged(let why)?): reason = why
            case (.torn, _): reason = "frame cut short at offset \(frame.offset)"
            case (.badLength(let n), _): reason = "frame length \(n) at offset \(frame.offset)"
            case let (.corrupted(calculated, actual), _):
                reason = "CRC mismatch at offset \(frame.offset) (calculated \(hex32(calculated)), stored \(hex32(actual)))"
            default: reason = "unreadable frame at offset \(frame.offset)"
            }
            if isLast, try isTornTail(scanner, at: frame.offset, expected: expected, state: state) {
                let size = try scanner.size()
                state.log.warn("truncating a torn journal tail", [
                    "path": file.path, "offset": frame.offset, "bytes": size - frame.offset, "reason": reason])
                let fd = try FileDescriptor.open(file.path, .writeOnly)
                try fd.closeAfter {
                    try fd.ftruncate(to: frame.offset)
                    try fd.fsync()
                }
                state.report.truncatedBytes += size - frame.offset
                end = StreamEnd(path: file.path, offset: frame.offset, found: "a torn frame (\(reason)), truncated")
                break
            }
            try quarantine(file, reason: reason, scanner: scanner, paths: paths, hostID: hostID, state: &state,
                           from: frame.offset, expected: expected)
            return nil
        }
        let status = try FileSystem.status(file.path)
        state.streamEnd = end ?? StreamEnd(path: file.path, offset: status.size, found: "the end of the file")
        return SegmentSummary(file: file, size: writtenEnd ?? status.size, lastHostSeq: expected - 1,
                              modifiedMicros: status.modifiedMicroseconds)
    }

    /// Damage at `offset` of the last segment is a torn tail when the checkpoint never declared
    /// it durable, or when no valid frame follows it.
    static func isTornTail(_ scanner: SegmentScanner, at offset: Int64, expected: UInt64, state: State) throws -> Bool {
        if let checkpoint = state.checkpoint, expected > checkpoint { return true }
        let after = try scanner.resync(from: offset + 1, plausible: expected...(expected + 100_000_000))
        return after == nil
    }

    static func apply(_ record: RecordFacts, state: inout State) {
        if !state.snapshot.apply(record) {
            state.report.discontinuities += 1
            if state.report.discontinuities <= 10 {
                state.log.warn("chain does not continue across a journal gap", [
                    "agent_id": record.agentID, "sequence": record.sequence, "host_seq": record.hostSeq])
            }
        }
    }

    /// Moves a damaged segment to quarantine/, after reading every frame that still validates
    /// (from `from` on, resyncing past damage) so their chain positions count.
    static func quarantine(_ file: SegmentFile, reason: String, scanner: SegmentScanner, paths: JournalPaths,
                           hostID: String, state: inout State, from: Int64? = nil, expected: UInt64? = nil) throws {
        var readable = 0
        let floor = expected ?? file.firstHostSeq
        var position = from ?? (scanner.framesStart > 0 ? scanner.framesStart : 0)
        var low = floor
        while let found = try scanner.resync(from: position, plausible: low...(low + 100_000_000)) {
            scanner.seek(to: found)
            var last = found
            while true {
                var verdict: FrameVerdict?
                let reader = state.reader
                guard let frame = try scanner.next({ hostSeq, bytes in
                    verdict = judge(hostSeq: hostSeq, expected: nil, record: bytes, hostID: hostID, reader: reader)
                }), case let .good(record)? = verdict else { break }
                last = frame.offset
                if record.hostSeq >= low {
                    apply(record, state: &state)
                    readable += 1
                    low = record.hostSeq + 1
                }
            }
            position = max(scanner.offset, last + 1)
        }
        // Once the file is in quarantine/ no start reads it again, so the heads its frames moved
        // would exist only in this run's memory: a restart before the new heads reach a segment
        // would rebuild older ones and hand their sequences out a second time (a fork). Stored
        // first, a crash before the move leaves the file to be read again, one after it the heads.
        if readable > 0 { try state.snapshot.store(paths) }
        let name = file.path.split(separator: "/").last.map(String.init) ?? "segment"
        let target = paths.quarantine + "/" + name + "." + String(SystemClock.nowMicroseconds())
        try FileSystem.rename(file.path, to: target)
        state.streamEnd = StreamEnd(path: target, offset: from ?? 0, found: "damage, quarantined: \(reason)")
        state.report.quarantined.append(QuarantinedSegment(path: target, reason: reason, readableRecords: readable))
        state.log.error("quarantined a damaged journal segment", [
            "path": target, "reason": reason, "readable_records": readable])
    }
}
