// Splitting a connection's input into lines and turning each into a record
// (or an error) in the loop's batch, byte-level throughout: no String, Data or
// JSONSerialization on this path.

import LedgerCore
import LedgerJournal
import LedgerPosix

extension EventLoop {
    /// Room for what the ledger adds to an event (id, host_id, received_at, origin, chain
    /// fields, hash) and the frame header, when checking the disk cap before sealing.
    var recordOverhead: Int { 768 + configuration.hostID.utf8.count * 2 }

    /// Handles every complete line in the connection's input; at EOF also a final line
    /// without a newline.
    func processLines(_ connection: Connection, atEOF: Bool) {
        let limit = configuration.maxLineBytes
        var consumed = 0
        let now = SystemClock.nowMicroseconds()
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
                        tooLarge(connection)
                        connection.discarding = true
                        consumed = count
                    } else if atEOF, rest.count > 0 {
                        connection.lineNumber += 1
                        ingest(rest, connection, receivedAt: now)
                        consumed = count
                    }
                    break
                }
                connection.lineNumber += 1
                if newline > limit {
                    tooLarge(connection)
                } else {
                    ingest(UnsafeRawBufferPointer(rebasing: rest[..<newline]), connection, receivedAt: now)
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

    private func tooLarge(_ connection: Connection) {
        var out: [UInt8] = []
        Responses.tooLarge(line: connection.lineNumber, limit: configuration.maxLineBytes, into: &out)
        respond(connection, out, hostSeq: connection.lastHostSeq, isOK: false, code: "TOO_LARGE")
    }

    /// One line: a record in the batch and a pending `ok`, or an error response.
    private func ingest(_ line: UnsafeRawBufferPointer, _ connection: Connection, receivedAt: Int64) {
        var event = line
        if event.last == UInt8(ascii: "\r") { event = UnsafeRawBufferPointer(rebasing: event.dropLast()) }
        if isBlank(event) { return }  // counted as a line, not answered (docs/PROTOCOL.md)
        if let failure = progress.failure {
            unavailable(connection, "the journal is failing (\(failure)); restart ledgerd after fixing the disk")
            return
        }
        let prepared: PreparedEvent
        do {
            prepared = try builder.prepare(event)
        } catch {
            rejected(connection, error)
            return
        }
        if let id = prepared.id, let original = dedupe.lookup(id) {
            counters.deduplicated += 1
            var out: [UInt8] = []
            Responses.ok(id: id, agentID: original.agentID, sequence: original.sequence, hash: original.hash, into: &out)
            let hostSeq = max(original.hostSeq, connection.lastHostSeq)
            respond(connection, out, hostSeq: hostSeq, isOK: true, code: nil)
            return
        }
        guard diskEstimate + Int64(event.count + recordOverhead) <= configuration.maxDiskBytes else {
            counters.diskFullRefusals += 1
            committer.requestPressureRetention()
            unavailable(connection, "the journal is at its disk cap (--max-disk \(configuration.maxDiskBytes) bytes) "
                + "with records not yet forwarded; retry later")
            return
        }
        let hostSeq = chains.lastHostSeq + 1
        let sealed: SealedRecord
        do {
            sealed = try JournalFrame.append(hostSeq: hostSeq, into: &batch) { out throws(RecordError) in
                try builder.seal(prepared, bytes: event, receivedAtMicros: receivedAt, origin: connection.origin,
                                 chains: &chains, into: &out)
            }
        } catch let error as RecordError {
            rejected(connection, error)
            return
        } catch {
            preconditionFailure("seal throws only RecordError: \(error)")
        }
        counters.accepted += 1
        dedupe.insert(id: sealed.id, .init(agentID: sealed.agentID, sequence: sealed.position.sequence,
                                           hash: sealed.hash, hostSeq: hostSeq))
        connection.lastHostSeq = hostSeq
        var out: [UInt8] = []
        Responses.ok(id: sealed.id, agentID: sealed.agentID, sequence: sealed.position.sequence, hash: sealed.hash,
                     into: &out)
        respond(connection, out, hostSeq: hostSeq, isOK: true, code: nil)
    }

    /// The journal's size as it will be once everything handed over is written.
    var diskEstimate: Int64 {
        progress.diskBytes + (handedBytes - progress.writtenBytes) + Int64(batch.count)
    }

    private func rejected(_ connection: Connection, _ error: RecordError) {
        var out: [UInt8] = []
        Responses.error(line: connection.lineNumber, error, into: &out)
        respond(connection, out, hostSeq: connection.lastHostSeq, isOK: false, code: error.code.rawValue)
    }

    private func unavailable(_ connection: Connection, _ message: String) {
        var out: [UInt8] = []
        Responses.unavailable(line: connection.lineNumber, message, into: &out)
        respond(connection, out, hostSeq: connection.lastHostSeq, isOK: false, code: "UNAVAILABLE")
    }

    /// Queues a response behind the connection's earlier ones, or sends it at once when
    /// nothing is ahead of it and its condition already holds.
    private func respond(_ connection: Connection, _ bytes: [UInt8], hostSeq: UInt64, isOK: Bool, code: String?) {
        if let code { counters.rejected[code, default: 0] += 1 }
        if !connection.hasPending && hostSeq <= progress.durable {
            if connection.writeClosed { return }
            if connection.unsentOutput + bytes.count <= configuration.maxUnreadResponseBytes {
                connection.output.append(contentsOf: bytes)
                flush(connection)
            } else {
                connection.droppedResponses += 1
                counters.droppedResponses += 1
            }
            return
        }
        connection.queue(bytes, hostSeq: hostSeq, line: connection.lineNumber, isOK: isOK)
    }
}

/// The index of the first `byte` in `buffer`, via memchr-speed search of the stdlib.
@inline(__always)
func memchrIndex(_ buffer: UnsafeRawBufferPointer, _ byte: UInt8) -> Int? {
    buffer.firstIndex(of: byte)
}

private func isBlank(_ bytes: UnsafeRawBufferPointer) -> Bool {
    for b in bytes where b != 0x20 && b != 0x09 && b != 0x0D { return false }
    return true
}
