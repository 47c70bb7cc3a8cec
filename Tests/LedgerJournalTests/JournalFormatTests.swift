// Golden bytes for every frozen layout, computed independently with Python's
// zlib.crc32 and struct.pack('<…'), so the code cannot drift from docs/JOURNAL.md.

import LedgerCore
import Testing
@testable import LedgerJournal

@Suite struct JournalFormatTests {
    @Test func segment_header_matches_golden_bytes() {
        let header = SegmentHeader(firstHostSeq: 1, hostID: "h1")
        #expect(header.encoded() == hexBytes("4c4447524a4e4c0001000000200000000100000000000000020068314ffb211f"))
        let decoded = header.encoded().withUnsafeBytes { SegmentHeader.decode($0) }
        #expect(decoded == .success(header))
    }

    @Test func frame_matches_golden_bytes() {
        var out: [UInt8] = []
        Array("{\"a\":1}".utf8).withUnsafeBytes { JournalFrame.append(record: $0, hostSeq: 7, into: &out) }
        #expect(out == hexBytes("070000002c7fa58707000000000000007b2261223a317d"))
        #expect(out.withUnsafeBytes { JournalFrame.validate($0) } == .valid(hostSeq: 7, length: out.count))
    }

    @Test func frames_sealed_without_a_checksum_get_the_golden_one_from_fill_checksums() {
        var out: [UInt8] = []
        for (hostSeq, record) in [(7, "{\"a\":1}"), (8, "{\"b\":[true,null]}"), (9, "{}")] {
            JournalFrame.append(hostSeq: UInt64(hostSeq), into: &out, checksum: false) {
                $0.append(contentsOf: Array(record.utf8))
            }
        }
        #expect(out[4..<8] == [0, 0, 0, 0])
        out.withUnsafeMutableBytes { JournalFrame.fillChecksums($0) }
        #expect(out.prefix(23) == hexBytes("070000002c7fa58707000000000000007b2261223a317d")[...])
        var checked: [UInt8] = []
        for (hostSeq, record) in [(7, "{\"a\":1}"), (8, "{\"b\":[true,null]}"), (9, "{}")] {
            Array(record.utf8).withUnsafeBytes { JournalFrame.append(record: $0, hostSeq: UInt64(hostSeq), into: &checked) }
        }
        #expect(out == checked)
    }

    @Test func checkpoint_matches_golden_bytes() {
        #expect(DurableCheckpoint.encode(42) == hexBytes("4c444752445552312a00000000000000e1ae53be00000000"))
        #expect(DurableCheckpoint.decode(DurableCheckpoint.encode(42)) == 42)
    }

    @Test func frame_validation_names_torn_corrupted_and_bad_length() {
        var frame: [UInt8] = []
        Array("{\"a\":1}".utf8).withUnsafeBytes { JournalFrame.append(record: $0, hostSeq: 7, into: &frame) }
        let torn = Array(frame.dropLast(3))
        #expect(torn.withUnsafeBytes { JournalFrame.validate($0) } == .torn(needed: frame.count, available: torn.count))
        let header = Array(frame.prefix(10))
        #expect(header.withUnsafeBytes { JournalFrame.validate($0) } == .torn(needed: 16, available: 10))
        var flipped = frame
        flipped[frame.count - 2] ^= 0x01
        guard case let .corrupted(calculated, actual) = flipped.withUnsafeBytes({ JournalFrame.validate($0) }) else {
            Issue.record("a flipped record byte must be .corrupted")
            return
        }
        #expect(calculated != actual && actual == 0x87a5_7f2c)
        let zeros = [UInt8](repeating: 0, count: 32)
        #expect(zeros.withUnsafeBytes { JournalFrame.validate($0) } == .badLength(0))
    }

    @Test func damaged_headers_are_rejected_with_a_reason() {
        var bytes = SegmentHeader(firstHostSeq: 5, hostID: "host").encoded()
        #expect(Array(bytes.prefix(20)).withUnsafeBytes { SegmentHeader.decode($0) } == .failure(.truncated))
        bytes[17] ^= 0xFF
        guard case .failure(.checksum) = bytes.withUnsafeBytes({ SegmentHeader.decode($0) }) else {
            Issue.record("a changed first host_seq must fail the header CRC")
            return
        }
        var magic = SegmentHeader(firstHostSeq: 5, hostID: "host").encoded()
        magic[0] = UInt8(ascii: "X")
        #expect(magic.withUnsafeBytes { SegmentHeader.decode($0) } == .failure(.badMagic))
    }

    @Test func segment_names_sort_in_host_seq_order() {
        #expect(SegmentFile.name(firstHostSeq: 52117) == "segment-00000000000000052117.log")
        #expect(SegmentFile.firstHostSeq(inName: "segment-00000000000000052117.log") == 52117)
        #expect(SegmentFile.firstHostSeq(inName: "segment-0000000000000005211x.log") == nil)
        #expect(SegmentFile.firstHostSeq(inName: "segment-00000000000000052117.log.1700") == nil)
    }

    @Test func chain_snapshot_round_trips_and_rejects_damage() {
        var snapshot = ChainSnapshot(hostSeq: 9)
        snapshot.heads["a"] = ChainHead(sequence: 3, hash: SHA256Digest(hex: Array(String(repeating: "ab", count: 32).utf8))!)
        snapshot.heads["b"] = ChainHead(sequence: 1, hash: .zero)
        var bytes = snapshot.encoded()
        #expect(ChainSnapshot.decode(bytes) == snapshot)
        bytes[10] ^= 1
        #expect(ChainSnapshot.decode(bytes) == nil)
    }

    @Test func relay_cursor_reads_acked_host_seq_and_host_id() {
        #expect(RelayCursor.parse(Array("{\"acked_host_seq\":52116,\"host_id\":\"web-1\"}\n".utf8))
                == RelayCursor(ackedHostSeq: 52116, hostID: "web-1"))
        #expect(RelayCursor.parse(RelayCursor.encode(ackedHostSeq: 7, hostID: "h\u{e9}\"")) == RelayCursor(ackedHostSeq: 7, hostID: "h\u{e9}\""))
        #expect(RelayCursor.parse(Array("{\"acked_host_seq\":3}".utf8)) == RelayCursor(ackedHostSeq: 3, hostID: nil))
        for bad in ["", "52116", "{\"acked_host_seq\":-1}", "{\"acked_host_seq\":\"5\"}", "{\"other\":1}", "{",
                    "{\"acked_host_seq\":5,\"host_id\":7}"] {
            #expect(RelayCursor.parse(Array(bad.utf8)) == nil, "\(bad)")
        }
        // Names are compared byte for byte: "é" precomposed and decomposed are different hosts.
        #expect(RelayCursor(ackedHostSeq: 1, hostID: "h\u{e9}").belongs(to: "h\u{e9}"))
        #expect(!RelayCursor(ackedHostSeq: 1, hostID: "h\u{e9}").belongs(to: "he\u{301}"))
        #expect(!RelayCursor(ackedHostSeq: 1, hostID: nil).belongs(to: "h"))
    }
}
