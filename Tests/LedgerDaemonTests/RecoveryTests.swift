import Dispatch
import Foundation
import Glibc
import LedgerCore
import LedgerJournal
import LedgerPosix
import Testing

extension DaemonTests {
    @Test func kill_9_in_a_write_storm_keeps_every_acknowledged_record_and_chains_continue_without_a_fork() throws {
        let daemon = try DaemonHarness()
        try daemon.start()
        let acked = AckLog()
        let group = DispatchGroup()
        for w in 0..<8 {
            let client = try Client(daemon.socket)
            DispatchQueue(label: "storm-send-\(w)").async(group: group) {
                var i = 0
                while true {
                    var chunk = ""
                    for _ in 0..<50 {
                        chunk += event("storm-\(w)-\(i % 5)") + "\n"
                        i += 1
                    }
                    if (try? client.send(chunk)) == nil { return }
                }
            }
            DispatchQueue(label: "storm-read-\(w)").async(group: group) {
                while let line = client.readLine(timeout: 30) { acked.add(Response(line)) }
                try? client.finishSending()
            }
        }
        usleep(1_500_000)
        daemon.kill9()
        group.wait()
        let responses = acked.all
        #expect(responses.count > 1000, "too few acknowledged records to mean anything: \(responses.count)")
        #expect(responses.allSatisfy { $0.ok })

        try daemon.start()
        #expect(try daemon.terminate() == 0)
        let lines = try daemon.journalLines()
        var byID: [String: String] = [:]
        for line in lines {
            let record = try JSONSerialization.jsonObject(with: Data(line)) as! [String: Any]
            byID[record["id"] as! String] = record["hash"] as? String
        }
        for response in responses {
            #expect(byID[response.id!] == response.hash, "acknowledged record \(response.id!) is missing")
        }
        // Restarted: each chain continues at its next sequence, and the stream verifies.
        try daemon.start()
        let client = try Client(daemon.socket)
        var heads: [String: Int] = [:]
        for line in lines {
            let record = try JSONSerialization.jsonObject(with: Data(line)) as! [String: Any]
            heads[record["agent_id"] as! String] = (record["sequence"] as! NSNumber).intValue
        }
        let agents = heads.keys.sorted()
        try client.send(agents.map { event($0) + "\n" }.joined())
        let next = client.readLines(agents.count).map(Response.init)
        #expect(next.count == agents.count)
        for (agent, response) in zip(agents, next) {
            #expect(response.sequence == heads[agent]! + 1, "chain \(agent) did not continue")
        }
        #expect(try daemon.terminate() == 0)
        let report = try daemon.verifyJournal()
        #expect(report.failure == nil, "\(String(describing: report.failure))")
        #expect(report.records == lines.count + agents.count)
    }

    @Test func a_torn_tail_is_truncated_on_start_and_the_journal_continues() throws {
        let daemon = try DaemonHarness()
        try daemon.start()
        let client = try Client(daemon.socket)
        try client.send((0..<100).map { event("t-\($0 % 3)") + "\n" }.joined())
        #expect(client.readLines(100).count == 100)
        #expect(try daemon.terminate() == 0)
        // Half a frame after the last one, as a crash in the middle of write(2) leaves it. The
        // segment is zero-filled past its frames (docs/JOURNAL.md), so that is where it goes.
        let segment = try SegmentFile.list(in: daemon.dataDir + "/journal").last!.path
        let scanner = try SegmentScanner(path: segment)
        while let frame = try scanner.next({ _, _ in }), case .valid = frame.validation {}
        let end = Int(scanner.offset)
        #expect(try FileSystem.status(segment).size > Int64(end))
        let good = try FileSystem.readFile(segment, limit: 1 << 30)
        let fd = try FileDescriptor.open(segment, .writeOnly)
        try fd.closeAfter { try fd.pwrite(Array(good[(end - 300)...].prefix(150)), at: Int64(end)) }
        try daemon.start()
        let again = try Client(daemon.socket)
        try again.send(event("t-0") + "\n")
        #expect(again.readLine().map(Response.init)?.sequence == 35)
        #expect(try daemon.terminate() == 0)
        #expect(daemon.log().contains("truncating a torn journal tail"))
        let report = try daemon.verifyJournal()
        #expect(report.failure == nil && report.records == 101)
    }

    @Test func acknowledged_records_missing_on_disk_are_logged_and_shown_and_ledgerd_keeps_ingesting_after_them() throws {
        let daemon = try DaemonHarness()
        try daemon.start()
        let client = try Client(daemon.socket)
        try client.send((0..<100).map { event("l-\($0 % 3)") + "\n" }.joined())
        let acked = client.readLines(100).map(Response.init)
        #expect(acked.count == 100 && acked.allSatisfy { $0.ok })
        daemon.kill9()
        // The disk lost the last ten acknowledged records: zeros where they were, inside the
        // segment's zero-filled part, below the checkpoint that says 100 are durable.
        let segment = try SegmentFile.list(in: daemon.dataDir + "/journal").last!.path
        let scanner = try SegmentScanner(path: segment)
        var offsets: [Int64] = []
        while true {
            offsets.append(scanner.offset)
            guard let frame = try scanner.next({ _, _ in }), case .valid = frame.validation else { break }
        }
        #expect(offsets.count == 101)
        let fd = try FileDescriptor.open(segment, .writeOnly)
        try fd.closeAfter { try fd.pwrite([UInt8](repeating: 0, count: Int(offsets[100] - offsets[90])), at: offsets[90]) }

        // ledgerd starts and keeps ingesting: refusing would lose new records too, and bring none back.
        try daemon.start()
        let journal = try daemon.status()["journal"] as! [String: Any]
        #expect((journal["lost_durable_records"] as? NSNumber)?.intValue == 10)
        #expect((journal["last_host_seq"] as! NSNumber).intValue == 100)
        let lost = daemon.log().split(separator: "\n").filter { $0.contains("acknowledged journal records are missing") }
        #expect(lost.count == 1 && lost.first?.contains("level=error") == true)
        #expect(lost.first?.contains("offset=\(offsets[90])") == true && lost.first?.contains("missing_host_seqs=10") == true)
        let text = try ledgerctl(["status", "--socket", daemon.socket])
        #expect(text.output.contains("LOST: 10 acknowledged records missing"), "\(text.output)")
        let after = try Client(daemon.socket)
        try after.send(event("l-0") + "\n")
        #expect(after.readLine().map(Response.init)?.ok == true)
        #expect(try daemon.terminate() == 0)

        // The next start has nothing new to report; the hole stays visible as a host_seq gap.
        try daemon.start()
        let again = try daemon.status()["journal"] as! [String: Any]
        #expect((again["lost_durable_records"] as? NSNumber)?.intValue == 0)
        #expect((again["last_host_seq"] as! NSNumber).intValue == 101)
        #expect(try !ledgerctl(["status", "--socket", daemon.socket]).output.contains("LOST"))
        #expect(try daemon.terminate() == 0)
        #expect(daemon.log().contains("msg=\"journal has a host_seq gap\" from=91 to=100"))
        let hostSeqs = try daemon.journalLines().map { line -> Int in
            let record = try JSONSerialization.jsonObject(with: Data(line)) as! [String: Any]
            return (record["host_seq"] as! NSNumber).intValue
        }
        #expect(hostSeqs == Array(1...90) + [101])
    }

    @Test func chains_continue_after_a_quarantined_last_segment_even_across_a_restart_with_nothing_written() throws {
        let daemon = try DaemonHarness()
        try daemon.start()
        let agents = ["q-0", "q-1", "q-2"]
        let client = try Client(daemon.socket)
        try client.send((0..<30).map { event(agents[$0 % 3]) + "\n" }.joined())
        let acked = client.readLines(30).map(Response.init)
        #expect(acked.count == 30 && acked.allSatisfy { $0.ok })
        var heads: [String: Response] = [:]
        for response in acked { heads[response.agentID!] = response }
        #expect(agents.map { heads[$0]?.sequence } == [10, 10, 10])
        daemon.kill9()

        // One flipped bit in the 15th frame (q-2's fifth record), with durable frames after it:
        // the disk changed data the checkpoint declared durable, so the segment is quarantined.
        let segments = try SegmentFile.list(in: daemon.dataDir + "/journal")
        #expect(segments.count == 1)
        let scanner = try SegmentScanner(path: segments[0].path)
        var offsets: [Int64] = []
        while true {
            offsets.append(scanner.offset)
            guard let frame = try scanner.next({ _, _ in }), case .valid = frame.validation else { break }
        }
        #expect(offsets.count == 31)
        let fd = try FileDescriptor.open(segments[0].path, .readWrite)
        try fd.closeAfter {
            var byte: [UInt8] = [0]
            _ = try byte.withUnsafeMutableBytes { try fd.pread(into: $0, at: offsets[14] + 40) }
            byte[0] ^= 0x10
            try fd.pwrite(byte, at: offsets[14] + 40)
        }

        try daemon.start()
        let status = try daemon.status()["journal"] as! [String: Any]
        #expect((status["quarantined_segments"] as! NSNumber).intValue == 1)
        #expect(try daemon.terminate() == 0)
        #expect(daemon.log().contains("quarantined a damaged journal segment"))
        // Stopped with nothing written: the quarantined frames are no longer in the journal, and
        // this start must still continue every chain after its true head.
        try daemon.start()
        let after = try Client(daemon.socket)
        try after.send(agents.map { event($0) + "\n" }.joined())
        let next = after.readLines(3).map(Response.init)
        #expect(next.count == 3 && next.allSatisfy { $0.ok })
        #expect(next.map(\.sequence) == [11, 11, 11])
        #expect(try daemon.terminate() == 0)
        #expect(!daemon.log().contains("acknowledged journal records are missing"))

        // The export is what the journal still holds: one record per chain at host_seq 31-33,
        // each a partial chain anchored at the hash of the record acknowledged as its tenth.
        let export = try ledgerctl(["export", "--data-dir", daemon.dataDir])
        #expect(export.status == 0 && export.output.split(separator: "\n").count == 3)
        let verify = try ledgerctl(["verify", "-"], input: export.output)
        #expect(verify.status == 0, "\(verify.output)")
        #expect(verify.output.hasPrefix("OK 3 records, 3 chains"), "\(verify.output)")
        for agent in agents {
            let anchored = "partial chain test-host/\(agent) starts at sequence 11, anchored at prev_hash \(heads[agent]!.hash!) "
            #expect(verify.output.contains(anchored), "\(agent): \(verify.output)")
        }
        // As the host's complete stream, the export shows the documented gap: the quarantined
        // host_seq 1-30, and nothing else.
        let complete = try ledgerctl(["verify", "--complete", "-"], input: export.output)
        #expect(complete.status == 1 && complete.output.contains("host_seq 31 where 1 was expected"),
                "\(complete.output)")
    }

    @Test func a_corrupted_middle_segment_is_quarantined_and_reported_never_dropped_or_crash_looping() throws {
        let daemon = try DaemonHarness(["--standalone", "--segment-size", "4KiB"])
        try daemon.start()
        let client = try Client(daemon.socket)
        // In rounds: segments rotate between group commits, so each round ends one batch.
        for _ in 0..<10 {
            try client.send((0..<30).map { event("c-\($0 % 3)", padding: 50) + "\n" }.joined())
            let round = client.readLines(30).map(Response.init)
            #expect(round.count == 30 && round.allSatisfy { $0.ok })
        }
        #expect(try daemon.terminate() == 0)
        let segments = try SegmentFile.list(in: daemon.dataDir + "/journal")
        #expect(segments.count > 4)
        var bytes = try FileSystem.readFile(segments[2].path, limit: 1 << 30)
        bytes[bytes.count / 2] ^= 0x20
        let fd = try FileDescriptor.open(segments[2].path, .writeOnly)
        try fd.closeAfter { try fd.pwrite(bytes, at: 0) }

        for _ in 0..<2 {  // a second start must not quarantine again or fail
            try daemon.start()
            let status = try daemon.status()
            #expect(((status["journal"] as! [String: Any])["quarantined_segments"] as! NSNumber).intValue == 1)
            #expect(try daemon.terminate() == 0)
        }
        #expect(daemon.log().contains("quarantined a damaged journal segment"))
        let quarantine = try FileSystem.contentsOfDirectory(daemon.dataDir + "/journal/quarantine")
        #expect(quarantine.count == 1 && quarantine[0].hasPrefix(SegmentFile.name(firstHostSeq: segments[2].firstHostSeq)))
        // Chains continue after their true heads: no sequence is handed out twice.
        try daemon.start()
        let after = try Client(daemon.socket)
        try after.send((0..<3).map { event("c-\($0)") + "\n" }.joined())
        let next = after.readLines(3).map(Response.init)
        #expect(next.map(\.sequence) == [101, 101, 101])
        #expect(try daemon.terminate() == 0)
    }
}

final class AckLog: @unchecked Sendable {
    private let lock = NSLock()
    private var responses: [Response] = []
    func add(_ r: Response) { lock.lock(); responses.append(r); lock.unlock() }
    var all: [Response] { lock.lock(); defer { lock.unlock() }; return responses }
}
