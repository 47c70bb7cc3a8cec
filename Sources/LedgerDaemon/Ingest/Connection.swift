// INVARIANT: responses leave a connection in the order of its lines. Each
// queued response carries the host_seq that must be durable before it may go:
// its own record's for `ok`, and for an error the connection's last record
// before it, so an error for line N never overtakes the `ok` of line N-1.
//
// INVARIANT: a response is dropped only while the writer is not reading: its
// socket has taken no byte for `EventLoop.unreadTimeout` although responses were
// waiting (`ignoresResponses`). A writer that reads, however slowly, is paused
// instead (its lines stay in its socket) and loses nothing (docs/PROTOCOL.md).

import LedgerCore
import LedgerPosix

/// One writer's connection: its unparsed input, its responses waiting for durability, and
/// its output waiting for the socket.
final class Connection {
    let id: UInt64
    let descriptor: FileDescriptor
    let origin: Origin
    /// Admin connections get a status document and are closed; they send nothing.
    let isAdmin: Bool

    /// Bytes read but not yet split into lines (at most one partial line after processing).
    var input: [UInt8] = []
    /// After a line over the limit: drop bytes up to the next newline.
    var discarding = false
    /// Lines seen so far (1-based numbers in error responses), blank lines included.
    var lineNumber = 0
    /// host_seq of this connection's last record (0: none yet).
    var lastHostSeq: UInt64 = 0

    /// Responses not yet released, rendered, with their release conditions.
    var pending: [UInt8] = []
    var pendingStart = 0
    var marks: [PendingMark] = []
    var marksStart = 0

    /// Released responses not yet taken by the socket.
    var output: [UInt8] = []
    var outputStart = 0
    /// Responses dropped because the writer did not read them (see docs/PROTOCOL.md).
    var droppedResponses = 0

    /// The writer sent EOF (or the socket failed for reading): no more lines come.
    var readClosed = false
    /// Writing failed (the writer is gone): responses are discarded.
    var writeClosed = false
    /// EPOLLIN is off because too much is in flight (backpressure).
    var readPaused = false
    /// EPOLLOUT is on because the socket was full.
    var waitingForWritable = false
    /// EPOLLIN is off because the writer has more than the unread cap of responses outstanding.
    var unreadPaused = false
    /// The events registered in the loop's epoll set; nil while the descriptor is not in it.
    var interest: EpollEvents?
    /// The peer hung up (EPOLLHUP or EPOLLERR seen). epoll reports that at every wait whatever
    /// the interest, for as long as the descriptor is in the set.
    var peerHungUp = false
    /// Since when (monotonic ns) the socket has been full with output waiting; 0 when nothing
    /// waits.
    var stalledSince: UInt64 = 0
    /// The writer did not read for the unread timeout: responses past the cap are dropped
    /// instead of pausing it, until its socket takes bytes again.
    var ignoresResponses = false

    struct PendingMark {
        /// End offset of this response in `pending`.
        var end: Int
        /// Must be durable before the response is released.
        var hostSeq: UInt64
        /// The line's number, to turn an `ok` into an UNAVAILABLE error if the journal fails.
        var line: Int
        var isOK: Bool
    }

    init(id: UInt64, descriptor: FileDescriptor, origin: Origin, isAdmin: Bool = false) {
        self.id = id
        self.descriptor = descriptor
        self.origin = origin
        self.isAdmin = isAdmin
    }

    var hasPending: Bool { marksStart < marks.count }
    var unsentOutput: Int { output.count - outputStart }
    /// Response bytes the writer has not taken yet: waiting for durability or for the socket.
    var outstandingResponseBytes: Int { pending.count - pendingStart + unsentOutput }

    /// Nothing left to do for a writer that is done sending.
    var isFinished: Bool { readClosed && !hasPending && (unsentOutput == 0 || writeClosed) }

    /// Queues the response `render` appends, to be released once `hostSeq` is durable.
    @inline(__always)
    func queue(hostSeq: UInt64, line: Int, isOK: Bool, _ render: (inout [UInt8]) -> Void) {
        render(&pending)
        marks.append(PendingMark(end: pending.count, hostSeq: hostSeq, line: line, isOK: isOK))
    }

    /// Moves every response whose host_seq is durable to `output` (or drops it past the cap).
    /// Returns how many were dropped.
    func release(durable: UInt64, maxUnread: Int) -> Int {
        var end = pendingStart
        var index = marksStart
        while index < marks.count, marks[index].hostSeq <= durable {
            end = marks[index].end
            index += 1
        }
        guard index > marksStart else { return 0 }
        var dropped = 0
        if writeClosed {
            dropped = 0  // nobody to answer; not counted as dropped for a reader that left
        } else if !ignoresResponses || unsentOutput + (end - pendingStart) <= maxUnread {
            // A reading writer gets everything: the loop stops reading its lines while more than
            // the cap is outstanding, which bounds what one release can add.
            output.append(contentsOf: pending[pendingStart..<end])
        } else {
            // Take whole responses while they fit, drop the rest; hand the socket what it takes
            // first, in case the writer has started reading again.
            var start = pendingStart
            for i in marksStart..<index {
                let mark = marks[i]
                if unsentOutput + (mark.end - start) > maxUnread { _ = flush() }
                if unsentOutput + (mark.end - start) <= maxUnread {
                    output.append(contentsOf: pending[start..<mark.end])
                } else {
                    dropped += 1
                }
                start = mark.end
            }
        }
        pendingStart = end
        marksStart = index
        compact()
        droppedResponses += dropped
        return dropped
    }

    /// Replaces every unreleased `ok` beyond `durable` by `replacement(line)`, after the journal
    /// failed: those records may not be on disk.
    func failPending(after durable: UInt64, replacement: (Int) -> [UInt8]) {
        guard hasPending else { return }
        var rebuilt: [UInt8] = []
        var newMarks: [PendingMark] = []
        var start = pendingStart
        for mark in marks[marksStart...] {
            if mark.isOK && mark.hostSeq > durable {
                rebuilt.append(contentsOf: replacement(mark.line))
                newMarks.append(PendingMark(end: rebuilt.count, hostSeq: 0, line: mark.line, isOK: false))
            } else {
                rebuilt.append(contentsOf: pending[start..<mark.end])
                newMarks.append(PendingMark(end: rebuilt.count, hostSeq: min(mark.hostSeq, durable), line: mark.line,
                                            isOK: mark.isOK))
            }
            start = mark.end
        }
        pending = rebuilt
        pendingStart = 0
        marks = newMarks
        marksStart = 0
    }

    private func compact() {
        if marksStart == marks.count {
            marks.removeAll(keepingCapacity: true)
            marksStart = 0
            pending.removeAll(keepingCapacity: true)
            pendingStart = 0
        } else if pendingStart > 1 << 16, pendingStart > pending.count / 2 {
            let shift = pendingStart
            pending.removeSubrange(..<shift)
            pendingStart = 0
            marks.removeSubrange(..<marksStart)
            marksStart = 0
            for i in marks.indices { marks[i].end -= shift }
        }
    }

    /// Writes as much output as the socket takes. Returns false when the socket is full.
    func flush(now: UInt64 = SystemClock.monotonicNanoseconds()) -> Bool {
        var took = false
        defer {
            // The socket is full from now on when it took bytes and then refused more; when it
            // took none, it has been full since the first attempt that found it so.
            if unsentOutput == 0 {
                stalledSince = 0
            } else if took || stalledSince == 0 {
                stalledSince = now
            }
            // A socket that takes bytes after being full is being read: the writer is paused
            // again (past the cap) rather than losing answers.
            if took { ignoresResponses = false }
        }
        while unsentOutput > 0 {
            if writeClosed {
                output.removeAll(keepingCapacity: true)
                outputStart = 0
                return true
            }
            let written: Int?
            do {
                written = try output.withUnsafeBytes {
                    try descriptor.tryWrite(UnsafeRawBufferPointer(rebasing: $0[outputStart...]))
                }
            } catch {
                writeClosed = true  // EPIPE, ECONNRESET: the writer is gone
                continue
            }
            guard let written else {
                if outputStart > 1 << 16 {
                    output.removeSubrange(..<outputStart)
                    outputStart = 0
                }
                return false
            }
            if written > 0 { took = true }
            outputStart += written
        }
        output.removeAll(keepingCapacity: true)
        outputStart = 0
        return true
    }
}
