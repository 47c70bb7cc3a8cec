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
