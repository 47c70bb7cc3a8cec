// Splitting a connection's input into lines and turning each into a record
// (or an error) in the loop's batch, byte-level throughout: no String, Data or
// JSONSerialization on this path.

internal import Glibc
import LedgerCore
import LedgerJournal
import LedgerPosix

/// What the loop changes for every line, kept out of the EventLoop object while a read is
/// processed: on the hot path a local struct costs no dynamic exclusivity check per field
/// access, which a class property does (measured: about 10% of the loop's CPU).
struct IngestState {
    /// Frames sealed since the last hand-over, with host_seq up to `chains.lastHostSeq`.
    var batch: [UInt8] = []
    var chains: HostChains
    var dedupe: DedupeWindow
    var counters = IngestCounters()

    static var placeholder: IngestState {
        IngestState(chains: HostChains(hostID: ""), dedupe: DedupeWindow(capacity: 0))
    }
}

/// Facts that stay fixed while one read is processed.
struct LineContext {
    let limit: Int
    let receivedAt: Int64
    let durable: UInt64
    let failure: String?
    /// Journal bytes on disk or handed over, before this round's batch.
    let diskBase: Int64
    let maxDisk: Int64
    let overhead: Int
    let maxUnread: Int
}

extension EventLoop {
    /// Room for what the ledger adds to an event (id, host_id, received_at, origin, chain
    /// fields, hash) and the frame header, when checking the disk cap before sealing.
    var recordOverhead: Int { 768 + configuration.hostID.utf8.count * 2 }

    /// Handles every complete line in the connection's input; at EOF also a final line
    /// without a newline.
    func processLines(_ connection: Connection, atEOF: Bool) {
        var st = IngestState.placeholder
        swap(&st, &state)
        defer { swap(&st, &state) }
        let context = LineContext(
            limit: configuration.maxLineBytes, receivedAt: SystemClock.nowMicroseconds(), durable: progress.durable,
            failure: progress.failure, diskBase: progress.diskBytes + (handedBytes - progress.writtenBytes),
            maxDisk: configuration.maxDiskBytes, overhead: recordOverhead,
            maxUnread: configuration.maxUnreadResponseBytes)
        let limit = context.limit
        var consumed = 0
        connection.input.withUnsafeBytes { raw in
            let count = raw.count
            while consumed < count {
                let rest = UnsafeRawBufferPointer(rebasing: raw[consumed...])
                let newline = memchrIndex(rest, UInt8(ascii: "\n"))
                if connection.discarding {
                    guard let newline else {
                        consumed = count
                        break
                    }
                    consumed += newline + 1
                    connection.discarding = false
                    continue
                }
                guard let newline else {
                    if rest.count > limit {
                        // Over the limit without an end in sight: answer now, drop until newline.
                        connection.lineNumber += 1
                        tooLarge(connection, &st, context)
                        connection.discarding = true
                        consumed = count
                    } else if atEOF, rest.count > 0 {
                        connection.lineNumber += 1
                        ingest(rest, connection, &st, context)
                        consumed = count
                    }
                    break
                }
                connection.lineNumber += 1
                if newline > limit {
                    tooLarge(connection, &st, context)
                } else {
                    ingest(UnsafeRawBufferPointer(rebasing: rest[..<newline]), connection, &st, context)
                }
                consumed += newline + 1
            }
        }
        if consumed == connection.input.count {
            connection.input.removeAll(keepingCapacity: connection.input.capacity <= 1 << 20)
        } else if consumed > 0 {
            connection.input.removeSubrange(..<consumed)
        }
        if connection.hasPending { waiting.insert(connection.id) }
    }

    private func tooLarge(_ connection: Connection, _ st: inout IngestState, _ context: LineContext) {
        let line = connection.lineNumber
        respond(connection, &st, context, hostSeq: connection.lastHostSeq, isOK: false, code: "TOO_LARGE") {
            Responses.tooLarge(line: line, limit: context.limit, into: &$0)
        }
    }

    /// One line: a record in the batch and a pending `ok`, or an error response.
    private func ingest(_ line: UnsafeRawBufferPointer, _ connection: Connection, _ st: inout IngestState,
                        _ context: LineContext) {
        var event = line
        if event.last == UInt8(ascii: "\r") { event = UnsafeRawBufferPointer(rebasing: event.dropLast()) }
        if isBlank(event) { return }  // counted as a line, not answered (docs/PROTOCOL.md)
        if let failure = context.failure {
            unavailable(connection, &st, context,
                        "the journal is failing (\(failure)); restart ledgerd after fixing the disk")
            return
        }
        let prepared: PreparedEvent
        do {
            prepared = try builder.prepare(event)
        } catch {
            rejected(connection, &st, context, error)
            return
        }
        if prepared.hasID, let id = prepared.id, let original = st.dedupe.lookup(id) {
            st.counters.deduplicated += 1
            let hostSeq = max(original.hostSeq, connection.lastHostSeq)
            respond(connection, &st, context, hostSeq: hostSeq, isOK: true, code: nil) {
                Responses.ok(id: id, agentID: original.agentID, sequence: original.sequence, hash: original.hash,
                             into: &$0)
            }
            return
        }
        guard context.diskBase + Int64(st.batch.count + event.count + context.overhead) <= context.maxDisk else {
            st.counters.diskFullRefusals += 1
            st.counters.diskFull = true
            committer.requestPressureRetention()
            unavailable(connection, &st, context,
                        "the journal is at its disk cap (--max-disk \(context.maxDisk) bytes) "
                            + "with records not yet forwarded; retry later")
            return
        }
        let hostSeq = st.chains.lastHostSeq + 1
        let sealed: SealedSpans
        // The journal thread fills in the frame's CRC (GroupCommitter.run): it has the time.
        let frame = JournalFrame.begin(into: &st.batch)
        do {
            sealed = try builder.sealSpans(prepared, bytes: event, receivedAtMicros: context.receivedAt,
                                           origin: connection.origin, chains: &st.chains, into: &st.batch)
        } catch {
            st.batch.removeSubrange(frame...)
            rejected(connection, &st, context, error)
            return
        }
        JournalFrame.finish(&st.batch, at: frame, hostSeq: hostSeq, checksum: false)
        st.counters.accepted += 1
        st.counters.diskFull = false
        // Only ids the writer chose can come back in a retry; generated ones are not remembered.
        if prepared.hasID, let id = prepared.id {
            st.dedupe.insert(id: id, .init(agentID: prepared.agentID, sequence: sealed.position.sequence,
                                           hash: sealed.hash, hostSeq: hostSeq))
        }
        connection.lastHostSeq = hostSeq
        // A second reference to the batch, only read while the answer is rendered: nothing
        // appends to the batch before it is released, so no copy is made.
        let records = st.batch
        respond(connection, &st, context, hostSeq: hostSeq, isOK: true, code: nil) { out in
            records.withUnsafeBytes { Responses.ok(sealed, in: $0, into: &out) }
        }
    }

    /// The journal's size as it will be once everything handed over is written.
    var diskEstimate: Int64 {
        progress.diskBytes + (handedBytes - progress.writtenBytes) + Int64(state.batch.count)
    }

    private func rejected(_ connection: Connection, _ st: inout IngestState, _ context: LineContext,
                          _ error: RecordError) {
        let line = connection.lineNumber
        respond(connection, &st, context, hostSeq: connection.lastHostSeq, isOK: false, code: error.code.rawValue) {
            Responses.error(line: line, error, into: &$0)
        }
    }

    private func unavailable(_ connection: Connection, _ st: inout IngestState, _ context: LineContext,
                             _ message: String) {
        let line = connection.lineNumber
        respond(connection, &st, context, hostSeq: connection.lastHostSeq, isOK: false, code: "UNAVAILABLE") {
            Responses.unavailable(line: line, message, into: &$0)
        }
    }

    /// Renders a response straight into the connection's queue behind its earlier ones; sends
    /// it at once when nothing is ahead of it and its condition already holds.
    private func respond(_ connection: Connection, _ st: inout IngestState, _ context: LineContext, hostSeq: UInt64,
                         isOK: Bool, code: String?, _ render: (inout [UInt8]) -> Void) {
        if let code { st.counters.rejected[code, default: 0] += 1 }
        let alone = !connection.hasPending
        connection.queue(hostSeq: hostSeq, line: connection.lineNumber, isOK: isOK, render)
        if alone && hostSeq <= context.durable {
            let dropped = connection.release(durable: context.durable, maxUnread: context.maxUnread)
            st.counters.droppedResponses += UInt64(dropped)
            flush(connection)
        }
    }
}

/// The index of the first `byte` in `buffer` (memchr).
@inline(__always)
func memchrIndex(_ buffer: UnsafeRawBufferPointer, _ byte: UInt8) -> Int? {
    guard let base = buffer.baseAddress, buffer.count > 0 else { return nil }
    // SAFETY: memchr reads only base ..< base+count, the caller's buffer.
    guard let hit = memchr(base, Int32(byte), buffer.count) else { return nil }
    return base.distance(to: UnsafeRawPointer(hit))
}

private func isBlank(_ bytes: UnsafeRawBufferPointer) -> Bool {
    for b in bytes where b != 0x20 && b != 0x09 && b != 0x0D { return false }
    return true
}
