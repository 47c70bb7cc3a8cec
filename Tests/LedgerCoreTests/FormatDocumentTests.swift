import Foundation
import Testing
@testable import LedgerCore

/// docs/FORMAT.md's worked examples are rebuilt byte for byte, so the document
/// cannot drift from the code.
@Suite struct FormatDocumentTests {
    /// Fenced blocks of docs/FORMAT.md by info string (`json event`, `text hash`, …), in order.
    static func blocks() throws -> [String: [String]] {
        let url = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("docs/FORMAT.md")
        let text = try String(contentsOf: url, encoding: .utf8)
        var result: [String: [String]] = [:]
        var current: String?
        var body: [String] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("```") {
                if let name = current {
                    result[name, default: []].append(body.joined(separator: "\n"))
                    current = nil
                } else {
                    current = String(line.dropFirst(3))
                    body = []
                }
            } else if current != nil {
                body.append(String(line))
            }
        }
        return result
    }

    @Test func workedExamplesAreRebuiltExactly() throws {
        let blocks = try Self.blocks()
        let events = try #require(blocks["json event"])
        let micros = try #require(blocks["text received-at-micros"])
        let hashed = try #require(blocks["json hashed"])
        let hashes = try #require(blocks["text hash"])
        let records = try #require(blocks["json record"])
        #expect(events.count == 2)
        #expect([micros.count, hashed.count, hashes.count, records.count].allSatisfy { $0 == events.count })

        let builder = RecordBuilder(hostID: "host-a")
        var chains = HostChains(hostID: "host-a")
        let reader = RecordReader()
        for i in events.indices {
            let event = Array(events[i].utf8)
            var out: [UInt8] = []
            let sealed = try event.withUnsafeBytes { bytes in
                try builder.append(bytes, receivedAtMicros: try #require(Int64(micros[i])),
                                   origin: .unix(uid: 1000, gid: 1000, pid: 4242), chains: &chains, into: &out)
            }
            #expect(String(decoding: out, as: UTF8.self) == records[i])
            #expect(sealed.hash.hex == hashes[i])
            #expect(SHA256.hash(Array(hashed[i].utf8)).hex == hashes[i])
            let stored = try reader.read(Array(records[i].utf8))
            #expect(stored.sequence == UInt64(i + 1))
            #expect(stored.hostSeq == UInt64(i + 1))
        }
    }
}
