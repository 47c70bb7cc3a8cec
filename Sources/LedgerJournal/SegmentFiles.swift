import LedgerPosix

/// A segment file as the directory lists it.
public struct SegmentFile: Equatable, Sendable {
    /// The first host_seq, from the file name.
    public var firstHostSeq: UInt64
    public var path: String

    /// `segment-<first host_seq, 20 digits>.log`: zero-padded so that byte order is host_seq order.
    public static func name(firstHostSeq: UInt64) -> String {
        let digits = String(firstHostSeq)
        return "segment-" + String(repeating: "0", count: 20 - digits.count) + digits + ".log"
    }

    /// The first host_seq in a segment file name, or nil for any other name.
    public static func firstHostSeq(inName name: String) -> UInt64? {
        let bytes = Array(name.utf8)
        guard bytes.count == 32, name.hasPrefix("segment-"), name.hasSuffix(".log") else { return nil }
        let digits = bytes[8..<28]
        guard digits.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
        return UInt64(String(decoding: digits, as: UTF8.self))
    }

    /// The segments of a journal directory, in host_seq order.
    public static func list(in journalDirectory: String) throws -> [SegmentFile] {
        try FileSystem.contentsOfDirectory(journalDirectory).compactMap { name in
            firstHostSeq(inName: name).map { SegmentFile(firstHostSeq: $0, path: journalDirectory + "/" + name) }
        }.sorted { $0.firstHostSeq < $1.firstHostSeq }
    }
}

/// Paths of one data directory's journal.
public struct JournalPaths: Sendable {
    public let dataDirectory: String
    public var journal: String { dataDirectory + "/" + Journal.directoryName }
    public var quarantine: String { journal + "/" + Journal.quarantineName }
    public var checkpoint: String { journal + "/" + Journal.checkpointName }

    public init(dataDirectory: String) {
        var trimmed = dataDirectory
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed.removeLast() }
        self.dataDirectory = trimmed
    }
}
