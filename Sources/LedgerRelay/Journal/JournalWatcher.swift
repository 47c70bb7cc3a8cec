// How the relay learns of new durable records without polling: inotify on the
// journal directory. ledgerd rewrites `journal/durable` in place (one pwrite per
// group commit, IN_MODIFY) after every fdatasync, and creates segments
// (IN_CREATE); either wakes the relay, which then reads the checkpoint. A
// slow fallback timeout (`fallbackNanos`) only covers a missed watch (the
// directory created after start, or moved away and back).

internal import Glibc
import LedgerPosix

/// Waits for changes in ledgerd's journal directory, or for `wake()` from another thread.
final class JournalWatcher {
    /// Re-reads the journal at least this often even without an event.
    static let fallbackNanos: UInt64 = 2_000_000_000

    private let journalDirectory: String
    private let dataDirectory: String
    private let inotify: FileDescriptor
    private let epoll: Epoll
    private let waker: EventFD
    private var watching = false
    private var buffer = [UInt8](repeating: 0, count: 64 << 10)

    private static let inotifyToken: UInt64 = 1
    private static let wakeToken: UInt64 = 2
    private static let journalMask = UInt32(IN_MODIFY | IN_CLOSE_WRITE | IN_CREATE | IN_MOVED_TO | IN_DELETE_SELF
                                            | IN_MOVE_SELF)
    private static let parentMask = UInt32(IN_CREATE | IN_MOVED_TO)

    init(journalDirectory: String, dataDirectory: String) throws {
        self.journalDirectory = journalDirectory
        self.dataDirectory = dataDirectory
        inotify = FileDescriptor(rawValue: try syscall("inotify_init1") {
            inotify_init1(Int32(IN_CLOEXEC | IN_NONBLOCK))
        })
        epoll = try Epoll(maxEventsPerWait: 4)
        waker = try EventFD()
        try epoll.add(inotify, events: .readable, token: Self.inotifyToken)
        try epoll.add(waker.descriptor, events: .readable, token: Self.wakeToken)
        rewatch()
    }

    deinit { try? inotify.close() }

    /// Any thread: makes a `wait` in progress (or the next one) return at once.
    func wake() { try? waker.signal() }

    /// Waits until the journal directory changes, `wake()` is called, or `timeoutNanos`
    /// (capped at the fallback) passes. Spurious returns are fine: the caller re-reads.
    func wait(timeoutNanos: UInt64?) throws {
        if !watching { rewatch() }
        let nanos = min(timeoutNanos ?? Self.fallbackNanos, Self.fallbackNanos)
        try epoll.wait(timeout: .nanoseconds(Int64(nanos))) { event in
            if event.token == Self.wakeToken { _ = try? waker.drain() } else { drainEvents() }
        }
    }

    /// Adds the watch on the journal directory, or on the data directory while the
    /// journal does not exist yet (ledgerd not started once).
    private func rewatch() {
        if inotify_add_watch(inotify.rawValue, journalDirectory, Self.journalMask) >= 0 {
            watching = true
        } else {
            _ = inotify_add_watch(inotify.rawValue, dataDirectory, Self.parentMask)
        }
    }

    private func drainEvents() {
        while true {
            let count = buffer.withUnsafeMutableBytes { raw in
                // SAFETY: reads at most raw.count bytes into the buffer the array owns.
                read(inotify.rawValue, raw.baseAddress, raw.count)
            }
            guard count > 0 else { return }
            // Only watch loss needs handling; every other event just means "re-read".
            buffer.withUnsafeBytes { raw in
                var offset = 0
                let header = MemoryLayout<inotify_event>.size
                while offset + header <= count {
                    let mask = raw.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self)
                    let nameLength = Int(raw.loadUnaligned(fromByteOffset: offset + 12, as: UInt32.self))
                    if mask & UInt32(IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF) != 0 { watching = false }
                    offset += header + nameLength
                }
            }
        }
    }
}
