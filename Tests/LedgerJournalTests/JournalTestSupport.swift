import LedgerCore
import LedgerPosix
@testable import LedgerJournal

/// A fresh journal directory per test, removed at the end.
final class TempJournal {
    let base: String
    let paths: JournalPaths
    let log = Logger(component: "test", threshold: .error)

    /// Under `parent` (default: $TMPDIR or /tmp), e.g. a small tmpfs that can fill up.
    init(under parent: String? = nil) throws {
        base = try FileSystem.makeTemporaryDirectory(prefix: "ljt", base: parent)
        paths = JournalPaths(dataDirectory: base + "/data")
    }

    deinit { try? FileSystem.removeTree(base) }

    func recover(onRecord: (RecordFacts) -> Void = { _ in }) throws -> RecoveryReport {
        try JournalRecovery.recover(paths: paths, hostID: "host-1", log: log, onRecord: onRecord)
    }

    func segments() throws -> [SegmentFile] { try SegmentFile.list(in: paths.journal) }

    func quarantined() throws -> [String] { try FileSystem.contentsOfDirectory(paths.quarantine) }
}

/// Seals events into frames the way ledgerd does, and keeps the chain state.
final class RecordFactory {
    let builder = RecordBuilder(hostID: "host-1")
    var chains: HostChains
    var clock: Int64 = 1_790_000_000_000_000

    init(chains: HostChains = HostChains(hostID: "host-1")) { self.chains = chains }

    /// Frames for `count` events spread over `agents` chains.
    func frames(_ count: Int, agents: Int = 3, padding: Int = 0) -> (bytes: [UInt8], first: UInt64, last: UInt64) {
        var out: [UInt8] = []
        let first = chains.lastHostSeq + 1
        for i in 0..<count {
            let pad = String(repeating: "p", count: padding)
            let event = Array("{\"agent_id\":\"agent-\(i % agents)\",\"action_name\":\"n\(pad)\"}".utf8)
            clock += 1
            let hostSeq = chains.lastHostSeq + 1
            event.withUnsafeBytes { raw in
                JournalFrame.append(hostSeq: hostSeq, into: &out) { buffer in
                    _ = try! builder.append(raw, receivedAtMicros: clock, origin: .unix(uid: 1, gid: 1, pid: 1),
                                            chains: &chains, into: &buffer)
                }
            }
        }
        return (out, first, chains.lastHostSeq)
    }

    /// Appends and syncs `count` records through `writer`.
    func write(_ count: Int, to writer: JournalWriter, agents: Int = 3, padding: Int = 0) throws {
        let batch = frames(count, agents: agents, padding: padding)
        try batch.bytes.withUnsafeBytes { try writer.append($0, first: batch.first, last: batch.last) }
        try writer.sync()
    }
}

/// A logger writing to a file of its own (not in the journal's filesystem, whose free space a
/// test may watch), so a test can count what was logged.
final class LogFile {
    let path: String
    let logger: Logger
    private let directory: String
    private let descriptor: FileDescriptor

    init() throws {
        directory = try FileSystem.makeTemporaryDirectory(prefix: "ljt-log")
        path = directory + "/test.log"
        descriptor = try FileDescriptor.open(path, .writeOnly, options: [.create, .append], permissions: 0o600)
        logger = Logger(component: "test", threshold: .warn, output: descriptor, timestamps: false)
    }

    deinit {
        try? descriptor.close()
        try? FileSystem.removeTree(directory)
    }

    /// The lines logged so far that contain `text`.
    func lines(containing text: String) throws -> [String] {
        try String(decoding: fileBytes(path), as: UTF8.self).split(separator: "\n").map(String.init)
            .filter { $0.contains(text) }
    }
}

/// The offsets of every valid frame in `path`, then the offset where the last one ends.
func frameOffsets(_ path: String) throws -> [Int64] {
    let scanner = try SegmentScanner(path: path)
    var offsets: [Int64] = []
    while true {
        offsets.append(scanner.offset)
        guard let frame = try scanner.next({ _, _ in }), case .valid = frame.validation else { return offsets }
    }
}

func fileBytes(_ path: String) throws -> [UInt8] { try FileSystem.readFile(path, limit: 1 << 30) }

func writeFile(_ path: String, _ bytes: [UInt8]) throws {
    let fd = try FileDescriptor.open(path, .writeOnly, options: [.truncate])
    try fd.closeAfter { try fd.write(bytes) }
}

func hexBytes(_ hex: String) -> [UInt8] {
    var out: [UInt8] = []
    var chars = Array(hex.utf8)[...]
    while chars.count >= 2 {
        out.append(UInt8(String(decoding: chars.prefix(2), as: UTF8.self), radix: 16)!)
        chars = chars.dropFirst(2)
    }
    return out
}
