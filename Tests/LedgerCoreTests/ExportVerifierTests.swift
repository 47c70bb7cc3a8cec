import Testing
@testable import LedgerCore

/// FORMAT.md §4: a valid export verifies, and a tampered export fails with the
/// right reason at the right line, one test per reason.
@Suite struct ExportVerifierTests {
    /// Two hosts, three chains, interleaved: host_seq runs 1…n per host.
    static func export(records: Int = 30) throws -> [String] {
        var lines: [String] = []
        var hosts = ["h1": (RecordBuilder(hostID: "h1"), HostChains(hostID: "h1")),
                     "h2": (RecordBuilder(hostID: "h2"), HostChains(hostID: "h2"))]
        let plan = [("h1", "a"), ("h2", "a"), ("h1", "b"), ("h1", "a"), ("h2", "c")]
        for i in 0..<records {
            let (host, agent) = plan[i % plan.count]
            var (builder, chains) = hosts[host]!
            var out: [UInt8] = []
            let event = Array(#"{"agent_id":"\#(agent)","action_type":"TOOL_CALL","action_input":{"i":\#(i)}}"#.utf8)
            _ = try event.withUnsafeBytes {
                try builder.append($0, receivedAtMicros: 1_771_324_200_000_000 + Int64(i), origin: .unix(uid: 0, gid: 0, pid: 1),
                                   chains: &chains, into: &out)
            }
            hosts[host] = (builder, chains)
            lines.append(String(decoding: out, as: UTF8.self))
        }
        return lines
    }

    static func verify(_ lines: [String], complete: Bool = false) -> VerificationReport {
        let verifier = ExportVerifier(completeStream: complete)
        for line in lines where !verifier.consume(line: Array(line.utf8)) { break }
        return verifier.finish()
    }

    @Test func aValidExportVerifies() throws {
        let report = Self.verify(try Self.export(), complete: true)
        #expect(report.isValid)
        #expect(report.records == 30)
        #expect(report.chains == 4)
        #expect(report.hosts == 2)
        #expect(report.partialChains.isEmpty)
    }

    /// Rewrites one field of line `index` and re-canonicalizes it (keeping the old hash).
    static func edit(_ line: String, _ from: String, _ to: String) -> String {
        line.replacingOccurrences(of: from, with: to)
    }

    @Test func changedContentIsAHashMismatch() throws {
        var lines = try Self.export()
        let original = lines[7]
        lines[7] = Self.edit(lines[7], #""i":7"#, #""i":8"#)
        let failure = try #require(Self.verify(lines).failure)
        #expect(failure.reason == .hashMismatch)
        #expect(failure.line == 8)
        // The record is well formed, so the failure names it (FORMAT.md §4).
        let record = try RecordReader().read(Array(original.utf8))
        #expect(failure.id == record.id)
        #expect(failure.sequence == record.sequence)
        #expect(failure.agentID == record.agentID && failure.hostID == record.hostID)
    }

    @Test func aRecordWhosePrevHashPointsElsewhereIsABrokenLink() throws {
        // Rebuild chain (h1, a) with record 2 linked to a different predecessor but a correct own hash.
        var lines = try Self.export()
        let reader = RecordReader()
        let target = 3  // the second record of (h1, a)
        let record = try reader.read(Array(lines[target].utf8))
        #expect(record.sequence == 2)
        let forged = Self.rehash(Self.edit(lines[target], record.prevHash.hex, String(repeating: "ab", count: 32)))
        lines[target] = forged
        let failure = try #require(Self.verify(lines).failure)
        #expect(failure.reason == .brokenLink)
        #expect(failure.line == target + 1)
        #expect(failure.agentID == "a")
        #expect(failure.hostID == "h1")
        #expect(failure.sequence == 2)
        #expect(failure.id == record.id)
    }

    @Test func aMissingRecordIsASequenceGap() throws {
        var lines = try Self.export()
        lines.remove(at: 3)  // (h1, a) sequence 2
        let failure = try #require(Self.verify(lines).failure)
        #expect(failure.reason == .sequenceGap)
        #expect(failure.sequence == 3)
    }

    @Test func aRepeatedRecordIsADuplicateSequence() throws {
        var lines = try Self.export()
        lines.insert(lines[3], at: 9)
        let failure = try #require(Self.verify(lines).failure)
        #expect(failure.reason == .duplicateSequence)
        #expect(failure.line == 10)
    }

    @Test func aDeletedChainTailIsAHostGapInACompleteExport() throws {
        // Host h2's records: index 1 (a#1, host_seq 1), 4 (c#1, 2), 6 (a#2, 3), 9 (c#2, 4).
        // Deleting index 6, the tail of chain (h2, a), leaves every chain intact.
        var lines = try Self.export(records: 10)
        lines.remove(at: 6)
        #expect(Self.verify(lines).isValid)
        let failure = try #require(Self.verify(lines, complete: true).failure)
        #expect(failure.reason == .hostGap)
        #expect(failure.hostID == "h2")
        #expect(failure.line == 9)
    }

    @Test func hostSeqGoingBackwardsIsAHostGapEvenWhenNotComplete() throws {
        var lines = try Self.export(records: 10)
        lines.swapAt(0, 2)  // h1's host_seq 1 and 2 swapped: chains (h1,a) and (h1,b) still ascend
        let failure = try #require(Self.verify(lines).failure)
        #expect(failure.reason == .hostGap)
    }

    @Test func nonCanonicalBytesAreReported() throws {
        var lines = try Self.export()
        lines[0] = lines[0].replacingOccurrences(of: #""agent_id":"a","#, with: #""agent_id": "a","#)
        #expect(Self.verify(lines).failure?.reason == .notCanonical)
        var escaped = try Self.export()
        escaped[0] = escaped[0].replacingOccurrences(of: #""agent_id":"a""#, with: #""agent_id":"\u0061""#)
        let failure = try #require(Self.verify(escaped).failure)
        #expect(failure.reason == .notCanonical)
        #expect(failure.agentID == "a" && failure.hostID == "h1" && failure.sequence == 1)
    }

    @Test(arguments: ["", "not json", "{}", #"{"agent_id":"a"}"#, "[1]"])
    func malformedLinesAreReported(_ bad: String) throws {
        var lines = try Self.export()
        lines.insert(bad, at: 5)
        let failure = try #require(Self.verify(lines).failure)
        #expect(failure.reason == .malformed)
        #expect(failure.line == 6)
    }

    @Test func aChainStartingAboveOneIsPartialAndAnchored() throws {
        var lines = try Self.export()
        let first = try RecordReader().read(Array(lines[0].utf8))
        lines.removeAll { $0.contains(#""host_id":"h1""#) && $0.contains(#""sequence":1,"#) && $0.contains(#""agent_id":"a""#) }
        let report = Self.verify(lines)
        #expect(report.isValid)
        let partial = try #require(report.partialChains.first { $0.agentID == "a" && $0.hostID == "h1" })
        #expect(partial.firstSequence == 2)
        #expect(partial.anchor == first.hash)
        #expect(Self.verify(lines, complete: true).failure?.reason == .hostGap)
    }

    /// Recomputes the hash of an edited line so that only chain checks can catch it.
    static func rehash(_ line: String) -> String {
        let bytes = Array(line.utf8)
        var tape = JSONTape()
        try! tape.parse(bytes)
        let hashNode = bytes.withUnsafeBytes { tape.value(of: "hash", in: 0, bytes: $0)! }
        let old = String(decoding: bytes[Int(tape[hashNode].start)..<Int(tape[hashNode].end)], as: UTF8.self)
        let without = line.replacingOccurrences(of: #""hash":"\#(old)","#, with: "")
        let fresh = SHA256.hash(Array(without.utf8)).hex
        return line.replacingOccurrences(of: old, with: fresh)
    }
}
