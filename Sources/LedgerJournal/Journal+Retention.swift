// INVARIANT: a segment is deleted only when every record in it was forwarded
// (the relay's acknowledged host_seq covers its last one) or the host is
// standalone, and only as part of a prefix of the journal; the chain snapshot
// covering it is stored first. Unforwarded records are never deleted, not even
// when the disk cap is reached: new lines are refused instead. Only a cursor
// written for this journal counts (its host_id, a position the journal reached):
// one left over from an earlier journal would pass off new records as forwarded.

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
    /// Shared by every copy of the policy: retention and the status document judge the cursor alike.
    public let cursorJudge = RelayCursorJudge()

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
    /// Why the relay cursor was not believed, when it was not.
    public var ignoredCursor: String?
}

extension JournalWriter {
    /// Deletes what `policy` allows, after folding the doomed segments' chain heads into the
    /// snapshot. Call between batches (it shares the writer's thread).
    public func applyRetention(_ policy: RetentionPolicy, now: Int64, underPressure: Bool,
                               log: Logger) throws -> RetentionResult {
        var result = RetentionResult()
        if !policy.standalone { (result.ackedHostSeq, result.ignoredCursor) = relayAcknowledged(policy, log: log) }
        let count = policy.deletableCount(segments, acked: result.ackedHostSeq, now: now, underPressure: underPressure)
        guard count > 0 else { return result }
        var snapshot = try ChainSnapshot.load(paths)
        let reader = RecordFactsReader()
        for segment in segments.prefix(count) {
            let scanner = try SegmentScanner(path: segment.file.path)
            var failure = false
            while let frame = try scanner.next({ _, bytes in
                if let facts = reader.read(bytes) { snapshot.apply(facts) } else { failure = true }
            }) {
                guard case .valid = frame.validation, !failure else {
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

    /// The acknowledged host_seq of a cursor written for this journal; one that is not is
    /// logged once (retention runs every 10 s).
    private func relayAcknowledged(_ policy: RetentionPolicy, log: Logger) -> (UInt64?, String?) {
        let (standing, change) = policy.cursorJudge.judge(path: policy.relayCursorPath, hostID: hostID,
                                                           lastHostSeq: lastHostSeq)
        switch change {
        case .ignored: log.error("retention ignores the relay cursor", ["reason": standing.ignoredReason ?? ""])
        case .believed:
            log.info("retention uses the relay cursor again: it belongs to this journal", [
                "path": policy.relayCursorPath, "acked_host_seq": standing.ackedHostSeq ?? 0])
        case .none: break
        }
        return (standing.ackedHostSeq, standing.ignoredReason)
    }
}
