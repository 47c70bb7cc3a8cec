// INVARIANT: a segment is deleted only when every record in it was forwarded
// (the relay's acknowledged host_seq covers its last one) or the host is
// standalone, and only as part of a prefix of the journal; the chain snapshot
// covering it is stored first. Unforwarded records are never deleted, not even
// when the disk cap is reached: new lines are refused instead.

import LedgerCore
import LedgerPosix

/// When segments may be deleted.
public struct RetentionPolicy: Sendable {
    /// Minimum age (since the segment's last write) before deletion, microseconds.
    public var retainMicros: Int64
    /// No upstream: the journal is the record of truth and age alone decides.
    public var standalone: Bool
    /// Where to read the relay's acknowledged position (unused when standalone).
    public var relayCursorPath: String

    public init(retainMicros: Int64 = 7 * 86_400 * 1_000_000, standalone: Bool = false,
                relayCursorPath: String = RelayCursor.defaultPath) {
        self.retainMicros = retainMicros
        self.standalone = standalone
        self.relayCursorPath = relayCursorPath
    }

    /// How many of the oldest `segments` may go: a prefix of the sealed ones (never the last,
    /// which is being written). Under disk pressure, forwarded segments may go before their
    /// retention age; a standalone host has no forwarded segments, so its cap is hard.
    public func deletableCount(_ segments: [SegmentSummary], acked: UInt64?, now: Int64, underPressure: Bool) -> Int {
        var count = 0
        for segment in segments.dropLast() {
            let forwarded = standalone || (acked.map { segment.lastHostSeq <= $0 } ?? false)
            let old = now - segment.modifiedMicros >= retainMicros
            guard forwarded, old || (underPressure && !standalone) else { break }
            count += 1
        }
        return count
    }
}

/// What one retention pass did.
public struct RetentionResult: Sendable, Equatable {
    public var deletedSegments = 0
    public var freedBytes: Int64 = 0
    public var ackedHostSeq: UInt64?
}

extension JournalWriter {
    /// Deletes what `policy` allows, after folding the doomed segments' chain heads into the
    /// snapshot. Call between batches (it shares the writer's thread).
    public func applyRetention(_ policy: RetentionPolicy, now: Int64, underPressure: Bool,
                               log: Logger) throws -> RetentionResult {
        var result = RetentionResult()
        result.ackedHostSeq = policy.standalone ? nil : RelayCursor.read(path: policy.relayCursorPath)
        let count = policy.deletableCount(segments, acked: result.ackedHostSeq, now: now, underPressure: underPressure)
        guard count > 0 else { return result }
        var snapshot = try ChainSnapshot.load(paths)
        let reader = RecordReader()
        for segment in segments.prefix(count) {
            let scanner = try SegmentScanner(path: segment.file.path)
            var failure: Error?
            while let frame = try scanner.next({ _, bytes in
                do { snapshot.apply(try reader.read(bytes)) } catch { failure = error }
            }) {
                guard case .valid = frame.validation, failure == nil else {
                    // Recovery checked every kept frame; damage now means the disk is failing.
                    log.error("retention stopped: a segment no longer reads back", [
                        "path": segment.file.path, "offset": frame.offset])
                    return result
                }
            }
        }
        try snapshot.store(paths)
        let removed = Array(segments.prefix(count))
        result.freedBytes = try removeOldest(count)
        result.deletedSegments = count
        for segment in removed {
            log.info("deleted a forwarded journal segment", [
                "path": segment.file.path, "last_host_seq": segment.lastHostSeq, "pressure": underPressure])
        }
        return result
    }
}
