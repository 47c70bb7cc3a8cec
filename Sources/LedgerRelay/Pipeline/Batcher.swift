// INVARIANT (ARCHITECTURE.md 2 and 4): a batch holds only records the
// JournalReader handed out, and the reader never hands out a record past the
// durable checkpoint; every batch is a contiguous host_seq range, so a journal
// gap (a quarantined segment) ends a batch and the next one starts after it.

import LedgerJournal
import LedgerPosix

/// A batch being filled: a contiguous host_seq range and its NDJSON body.
struct PendingBatch {
    var firstHostSeq: UInt64
    var lastHostSeq: UInt64
    /// The last host_seq of the batch cut before this one (or the cursor's position for the
    /// first): what the batch declares as its predecessor. Below `firstHostSeq` − 1 only
    /// across a journal gap, which the server then records.
    var predecessorHostSeq: UInt64 = 0
    var count: Int
    /// `record "\n" record "\n" …`: canonical record lines, exactly as the journal holds them.
    var body: [UInt8]
    /// When the first record was read (monotonic), for the linger deadline.
    var openedAtNanos: UInt64
    /// Which cut of the journal it belongs to: 0 from the start, one more each time a 413 made
    /// the relay cut again from an earlier point (DeliveryWindow); batches of an earlier cut are
    /// dropped unsent.
    var cut = 0
}

/// Cuts the journal's durable records into batches of at most `maxRecords` records and
/// `maxBytes` body bytes (a single larger record goes alone), in host_seq order.
///
/// Behind (more durable records already waiting when a batch reaches `maxRecords`), a
/// batch keeps growing up to `backlogMaxRecords`, still within `maxBytes`: the server
/// commits one batch per request and only a few requests are in flight, so the
/// per-batch costs (round trip, transaction, fsync) are paid once per larger batch. Live
/// flow, which waits for records, is cut at `maxRecords` or the linger as before.
final class Batcher {
    let reader: JournalReader
    let maxRecords: Int
    let backlogMaxRecords: Int
    /// Lowered after a 413 (`restart`), never raised while the relay runs.
    private(set) var maxBytes: Int
    let log: Logger
    /// The last host_seq taken from the journal (into a batch or `carry`).
    private(set) var readPosition: UInt64
    private var current: PendingBatch?
    /// A record already read that starts the next batch (it did not fit, or follows a gap).
    private var carry: (hostSeq: UInt64, bytes: [UInt8])?
    private var currentIsFull = false
    /// The last host_seq of the batch handed out last (the start position before the first).
    private var lastCut: UInt64

    init(reader: JournalReader, after position: UInt64, maxRecords: Int, backlogMaxRecords: Int? = nil,
         maxBytes: Int, log: Logger) {
        self.reader = reader
        self.readPosition = position
        self.lastCut = position
        self.maxRecords = maxRecords
        self.backlogMaxRecords = max(maxRecords, backlogMaxRecords ?? maxRecords)
        self.maxBytes = maxBytes
        self.log = log
    }

    /// Forgets the open batch and everything read, and goes on after `position` (a batch's
    /// declared predecessor, so the next batch declares it too) with batches of at most `maxBytes`.
    func restart(after position: UInt64, maxBytes: Int) {
        readPosition = position
        lastCut = position
        current = nil
        carry = nil
        currentIsFull = false
        self.maxBytes = maxBytes
    }

    /// When the open batch must be sent even if not full (monotonic nanoseconds), nil when none is open.
    func deadline(lingerNanos: UInt64) -> UInt64? {
        current.map { $0.openedAtNanos + lingerNanos }
    }

    var hasOpenBatch: Bool { current != nil }

    /// Reads every durable record the journal has after `readPosition` into the open batch;
    /// returns the batch once it is full (or ended by a gap), nil while it can take more.
    func fill() throws -> PendingBatch? {
        if current == nil, let carried = carry {
            carry = nil
            open(carried.hostSeq)
            carried.bytes.withUnsafeBytes { append($0) }
            readPosition = carried.hostSeq
            currentIsFull = current!.count >= backlogMaxRecords
        }
        if currentIsFull { return take() }
        // readPosition moves record by record inside the closure, so a read error part way
        // leaves it naming exactly the last record kept (in the batch or in `carry`).
        try reader.read(after: readPosition) { hostSeq, bytes in
            defer { readPosition = hostSeq }
            guard let last = current?.lastHostSeq, let size = current?.body.count else {
                if hostSeq != readPosition + 1 {
                    log.warn("the journal skips host_seq values; the server records the gap", [
                        "expected": readPosition + 1, "next_available": hostSeq])
                }
                open(hostSeq)
                append(bytes)
                currentIsFull = current!.count >= backlogMaxRecords
                return !currentIsFull
            }
            let contiguous = hostSeq == last + 1
            if !contiguous {
                log.error("journal gap: host_seq values are missing (quarantined segment?); the server "
                          + "records a host_gap incident", ["from": last + 1, "to": hostSeq - 1])
            }
            if !contiguous || size + bytes.count + 1 > maxBytes {
                carry = (hostSeq, Array(bytes))
                currentIsFull = true
                return false
            }
            // In place: a copy of `current` alive here would make every append copy the whole body.
            current!.lastHostSeq = hostSeq
            current!.count += 1
            append(bytes)
            currentIsFull = current!.count >= backlogMaxRecords
            return !currentIsFull
        }
        // Past `maxRecords` the batch only grew because records were waiting; now that the
        // journal has no more, it goes at once rather than after the linger.
        if let count = current?.count, count >= maxRecords { currentIsFull = true }
        return currentIsFull ? take() : nil
    }

    /// Hands out the open batch, full or not (its linger expired).
    func take() -> PendingBatch? {
        defer {
            current = nil
            currentIsFull = false
        }
        guard current != nil else { return nil }
        current!.predecessorHostSeq = lastCut
        lastCut = current!.lastHostSeq
        return current
    }

    private func open(_ hostSeq: UInt64) {
        var body: [UInt8] = []
        // Room for a full batch up front: growing by doubling would copy the body again and again.
        body.reserveCapacity(min(maxBytes, backlogMaxRecords * 4096, 64 << 20) + 4096)
        current = PendingBatch(firstHostSeq: hostSeq, lastHostSeq: hostSeq, count: 1, body: body,
                               openedAtNanos: SystemClock.monotonicNanoseconds())
    }

    /// Appends one record line to the open batch (whose count and range the caller set).
    private func append(_ bytes: UnsafeRawBufferPointer) {
        current!.body.append(contentsOf: bytes)
        current!.body.append(0x0A)
    }
}
