// INVARIANT: a reader never hands out a frame past the durable checkpoint, so
// the relay forwards only records the host can no longer lose
// (ARCHITECTURE.md invariant 2).

import LedgerPosix

/// Reads a journal's durable records in host_seq order, for ledger-relay and ledgerctl
/// (export, tail). Needs only read access to the journal directory; never writes.
public final class JournalReader {
    public let paths: JournalPaths
    private var scanner: SegmentScanner?
    /// host_seq of the next frame `scanner` is positioned at.
    private var scannerNext: UInt64 = 0

    /// A durable record the reader cannot read where it must be: the checkpoint names it, but
    /// the file holds damage, zeros or its end there. Reading stops before it (the records after
    /// it in the same segment cannot be found without guessing) until a later segment exists,
    /// which the reader then goes on with, leaving a host_seq gap.
    public struct Stall: Equatable, Sendable {
        public var segment: String
        public var offset: Int64
        /// The host_seq expected at `offset`.
        public var hostSeq: UInt64
        public var durableHostSeq: UInt64
        /// What the file holds there.
        public var found: String
    }

    /// The current stall, nil while reading moves on.
    public private(set) var stall: Stall?
    /// Called on the reading thread when `stall` changes (a new one, or nil when reading moved on),
    /// so that a stall repeated on every wake-up is reported once.
    public var onStallChange: ((Stall?) -> Void)?

    public init(dataDirectory: String) {
        paths = JournalPaths(dataDirectory: dataDirectory)
    }

    /// The durable host_seq the checkpoint names now (0 when there is no checkpoint yet).
    public func durableHostSeq() throws -> UInt64 {
        try DurableCheckpoint.read(journalDirectory: paths.journal) ?? 0
    }

    /// Calls `body` with (host_seq, canonical record bytes) for each durable record after
    /// `after`, in order, until `body` returns false, `limit` records were delivered, or the
    /// durable position is reached. Returns the host_seq of the last record delivered
    /// (`after` when none). A host_seq gap (a quarantined segment) is skipped over; the caller
    /// sees it as a jump.
    @discardableResult
    public func read(after: UInt64, limit: Int = .max,
                     _ body: (UInt64, UnsafeRawBufferPointer) throws -> Bool) throws -> UInt64 {
        let durable = try durableHostSeq()
        var last = after
        var delivered = 0
        var repositioned = false
        var stalled: Stall?
        while last < durable, delivered < limit {
            let kept = self.scanner != nil && scannerNext == last + 1
            guard let scanner = try position(at: last + 1) else { break }
            var keepGoing = true
            var progressed = false
            var unreadable: (offset: Int64, found: String)?
            while keepGoing, delivered < limit {
                var hostSeqSeen: UInt64 = 0
                let before = scanner.offset
                guard let frame = try scanner.next({ hostSeq, bytes in
                    hostSeqSeen = hostSeq
                    guard hostSeq > last, hostSeq <= durable else { return }
                    keepGoing = try body(hostSeq, bytes)
                    delivered += 1
                    last = hostSeq
                    progressed = true
                }) else {
                    unreadable = (scanner.offset, "the end of the file")
                    break
                }
                guard case .valid = frame.validation else {
                    unreadable = (frame.offset, Self.describe(frame.validation))
                    break
                }
                if hostSeqSeen > durable {
                    // Written but not yet durable: leave it for a later call.
                    scanner.seek(to: before)
                    break
                }
                scannerNext = hostSeqSeen + 1
                if hostSeqSeen >= durable { break }
            }
            if !keepGoing || delivered >= limit || last >= durable { break }
            // The end of this segment: the next pass opens the one after it. No progress
            // means the files do not (yet) hold what the checkpoint says: stop for now. Unless
            // the scanner was the one kept from the last call: it sits at the end of a segment
            // the writer has sealed since, and the records are in the next one, which a fresh
            // positioning finds (else they would wait for the next wake-up).
            self.scanner = nil
            if !progressed {
                if kept && !repositioned {
                    repositioned = true
                    continue
                }
                if let unreadable {
                    stalled = Stall(segment: scanner.path, offset: unreadable.offset, hostSeq: last + 1,
                                    durableHostSeq: durable, found: unreadable.found)
                }
                break
            }
        }
        if stalled != nil || delivered > 0 {
            let moved = stalled.map { ($0.segment, $0.offset, $0.hostSeq) }
            let changed = moved == nil ? stall != nil
                : stall.map { ($0.segment, $0.offset, $0.hostSeq) != moved! } ?? true
            stall = stalled
            // Not when only the durable position moved: new records behind the same stall.
            if changed { onStallChange?(stalled) }
        }
        return last
    }

    private static func describe(_ validation: FrameValidation) -> String {
        switch validation {
        case .valid: return "a valid frame"
        case let .corrupted(calculated, actual):
            return "a frame whose bytes do not match its CRC (calculated \(hex32(calculated)), stored \(hex32(actual)))"
        case let .badLength(length): return length == 0 ? "zeros" : "a frame length of \(length) bytes"
        case let .torn(needed, available): return "a frame cut short (\(available) of \(needed) bytes)"
        }
    }

    /// A scanner positioned at the frame with `hostSeq`, or at the first one after it when
    /// `hostSeq` lies in a gap; nil when no segment holds it yet.
    private func position(at hostSeq: UInt64) throws -> SegmentScanner? {
        if let scanner, scannerNext == hostSeq { return scanner }
        let segments = try SegmentFile.list(in: paths.journal)
        guard !segments.isEmpty else { return nil }
        var index = segments.lastIndex(where: { $0.firstHostSeq <= hostSeq }) ?? 0
        while true {
            let scanner = try SegmentScanner(path: segments[index].path)
            var next = segments[index].firstHostSeq
            var exhausted = false
            while next < hostSeq {
                let before = scanner.offset
                var seen: UInt64 = 0
                guard let frame = try scanner.next({ seq, _ in seen = seq }), case .valid = frame.validation else {
                    scanner.seek(to: before)
                    exhausted = true
                    break
                }
                next = seen + 1
            }
            if !exhausted, index + 1 < segments.count {
                // A sealed segment whose last frame is `hostSeq - 1` (a quarantined segment came
                // next) does not hold `hostSeq` either, though the loop above reached it.
                let before = scanner.offset
                if let frame = try scanner.next({ _, _ in }), case .valid = frame.validation {} else { exhausted = true }
                scanner.seek(to: before)
            }
            // A segment that ends before `hostSeq` while a later one exists: a gap; go on there.
            if exhausted, index + 1 < segments.count {
                index += 1
                if segments[index].firstHostSeq > hostSeq {
                    let later = try SegmentScanner(path: segments[index].path)
                    self.scanner = later
                    scannerNext = segments[index].firstHostSeq
                    return later
                }
                continue
            }
            self.scanner = scanner
            scannerNext = next
            return scanner
        }
    }
}
