import Dispatch
import Foundation
import Glibc
import LedgerCore
import LedgerJournal
import LedgerPosix
import Testing

/// Every test starts its own real ledgerd; they run one at a time so that timing-sensitive
/// ones (drain, kill -9) are not starved on a 2-core machine.
@Suite(.serialized) struct DaemonTests {}

extension DaemonTests {
    @Test func hundred_concurrent_writers_lose_nothing_and_every_chain_verifies() throws {
        let daemon = try DaemonHarness()
        try daemon.start()
        let writers = 100, perWriter = 1000
        let results = ResultBox(count: writers)
        let group = DispatchGroup()
        for w in 0..<writers {
            DispatchQueue(label: "writer-\(w)").async(group: group) {
                do {
                    let client = try Client(daemon.socket)
                    var payload = ""
                    // 10 agents per writer: 1,000 chains at once.
                    for i in 0..<perWriter { payload += event("w\(w)-a\(i % 10)", padding: 200) + "\n" }
                    try client.send(payload)
                    try client.finishSending()
                    results.set(w, client.readLines(perWriter + 1, timeout: 60).map(Response.init))
                } catch {
                    results.set(w, [])
                }
            }
        }
        group.wait()
        var ids = Set<String>()
        for w in 0..<writers {
            let responses = results.get(w)
            #expect(responses.count == perWriter, "writer \(w) got \(responses.count) responses")
            #expect(responses.allSatisfy { $0.ok })
            // Per chain, the sequence a writer sees ascends by one.
            var last: [String: Int] = [:]
            for r in responses {
                guard let agent = r.agentID, let seq = r.sequence else { continue }
                #expect(seq == (last[agent] ?? 0) + 1)
                last[agent] = seq
                if let id = r.id { ids.insert(id) }
            }
        }
        #expect(ids.count == writers * perWriter)
        #expect(try daemon.terminate() == 0)
        let report = try daemon.verifyJournal()
        #expect(report.failure == nil, "\(String(describing: report.failure))")
        #expect(report.records == writers * perWriter && report.chains == writers * 10)
    }

    @Test func a_writer_that_reads_slowly_loses_no_response_however_far_behind_it_falls() throws {
        let daemon = try DaemonHarness()
        try daemon.start()
        let client = try Client(daemon.socket)
        let lines = 30_000  // ~5 MiB of responses, five times the 1 MiB unread cap
        var payload = ""
        for i in 0..<lines { payload += event("slow-\(i % 4)") + "\n" }
        let bytes = Array(payload.utf8)
        let sent = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            try? client.send(bytes)
            try? client.finishSending()
            sent.signal()
        }
        // Far slower than the daemon answers, but never silent for long.
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16 << 10)
        let deadline = SystemClock.monotonicNanoseconds() + 60_000_000_000
        while SystemClock.monotonicNanoseconds() < deadline {
            let n = (try? buffer.withUnsafeMutableBytes { try client.fd.read(into: $0) }) ?? 0
            if n == 0 { break }
            received.append(contentsOf: buffer[..<n])
            usleep(3_000)
        }
        #expect(sent.wait(timeout: .now() + 10) == .success)
        let responses = received.split(separator: UInt8(ascii: "\n")).map { Response(String(decoding: $0, as: UTF8.self)) }
        #expect(responses.count == lines)
        #expect(responses.allSatisfy { $0.ok })
        let records = try daemon.status()["records"] as! [String: Any]
        #expect((records["responses_dropped"] as! NSNumber).intValue == 0)
        #expect(try daemon.terminate() == 0)
    }

    @Test func a_writer_that_never_reads_stalls_no_one_and_loses_no_record() throws {
        let daemon = try DaemonHarness()
        try daemon.start()
        let silent = try Client(daemon.socket)
        let lines = 30_000  // ~6 MiB of responses, far past the 1 MiB unread cap
        var payload = ""
        for i in 0..<lines { payload += event("silent-\(i % 4)") + "\n" }
        try silent.send(payload)
        // Meanwhile another writer is served promptly.
        let other = try Client(daemon.socket)
        try other.send((0..<10).map { event("other-\($0)") + "\n" }.joined())
        let answers = other.readLines(10, timeout: 10).map(Response.init)
        #expect(answers.count == 10 && answers.allSatisfy { $0.ok })
        // Every line of the silent writer is journaled even though nobody reads its responses.
        var status = try daemon.status()
        for _ in 0..<200 {
            let journal = status["journal"] as! [String: Any]
            if (journal["durable_host_seq"] as! NSNumber).intValue == lines + 10 { break }
            usleep(50_000)
            status = try daemon.status()
        }
        let journal = status["journal"] as! [String: Any]
        #expect((journal["durable_host_seq"] as! NSNumber).intValue == lines + 10)
        let records = status["records"] as! [String: Any]
        #expect((records["responses_dropped"] as! NSNumber).intValue > 0)
        // When it finally reads: what was kept comes in order, all ok, and then EOF.
        try silent.finishSending()
        let kept = silent.readToEnd(timeout: 10).split(separator: "\n").map { Response(String($0)) }
        #expect(kept.count > 1000 && kept.count < lines)
        #expect(kept.allSatisfy { $0.ok })
        #expect(try daemon.terminate() == 0)
        #expect(try daemon.journalLines().count == lines + 10)
    }

    @Test func every_error_code_is_answered_in_order_and_keeps_the_connection_open() throws {
        let daemon = try DaemonHarness(["--standalone", "--max-line", "4KiB"])
        try daemon.start()
        let client = try Client(daemon.socket)
        let big = event("a", padding: 5000)
        try client.send([
            event("a"),                                   // 1 ok
            "{\"agent_id\":",                              // 2 MALFORMED_JSON
            "{\"agent_id\":\"a\",\"colour\":\"red\"}",      // 3 VALIDATION_ERROR (unknown field)
            big,                                          // 4 TOO_LARGE
            "{\"action_type\":\"TOOL_CALL\"}",             // 5 VALIDATION_ERROR (agent_id missing)
            "{\"agent_id\":\"a\",\"host_id\":\"forged\"}",  // 6 VALIDATION_ERROR (ledger-only field)
            "{\"agent_id\":\"a\",\"metadata\":{\"n\":12345678901234567890}}", // 7 MALFORMED_JSON (not exact as a double)
            event("a"),                                   // 8 ok
        ].joined(separator: "\n") + "\n")
        let r = client.readLines(8).map(Response.init)
        #expect(r.count == 8)
        guard r.count == 8 else { return }
        #expect(r[0].ok && r[0].sequence == 1)
        #expect(r[1].code == "MALFORMED_JSON" && r[1].line == 2)
        #expect(r[2].code == "VALIDATION_ERROR" && r[2].field == "colour" && r[2].line == 3)
        #expect(r[3].code == "TOO_LARGE" && r[3].line == 4)
        #expect(r[4].code == "VALIDATION_ERROR" && r[4].field == "agent_id" && r[4].line == 5)
        #expect(r[5].code == "VALIDATION_ERROR" && r[5].field == "host_id" && r[5].line == 6)
        #expect(r[6].code == "MALFORMED_JSON" && r[6].line == 7)
        #expect(r[7].ok && r[7].sequence == 2)
        let status = try daemon.status()
        let rejected = (status["records"] as! [String: Any])["rejected"] as! [String: Any]
        #expect((rejected["VALIDATION_ERROR"] as? NSNumber)?.intValue ?? 0 >= 3)
        #expect((rejected["TOO_LARGE"] as? NSNumber)?.intValue == 1)
        #expect((rejected["MALFORMED_JSON"] as? NSNumber)?.intValue == 2)
    }

    @Test func a_line_over_the_limit_is_discarded_to_its_newline_and_later_lines_are_ingested() throws {
        let daemon = try DaemonHarness(["--standalone", "--max-line", "1KiB"])
        try daemon.start()
        let client = try Client(daemon.socket)
        // 300 KiB in pieces: the daemon answers TOO_LARGE before the newline arrives.
        let huge = Array(event("big", padding: 300 << 10).utf8)
        for chunk in stride(from: 0, to: huge.count, by: 8192) {
            try client.send(Array(huge[chunk..<min(chunk + 8192, huge.count)]))
        }
        try client.send("\n" + event("after") + "\n" + event("after") + "\n" + event("last-without-newline"))
        try client.finishSending()
        let r = client.readToEnd().split(separator: "\n").map { Response(String($0)) }
        #expect(r.count == 4)
        guard r.count == 4 else { return }
        #expect(r[0].code == "TOO_LARGE" && r[0].line == 1)
        #expect(r[1].ok && r[1].agentID == "after" && r[1].sequence == 1)
        #expect(r[2].ok && r[2].sequence == 2)
        #expect(r[3].ok && r[3].agentID == "last-without-newline")
    }

    @Test func a_retry_with_a_known_id_gets_the_original_response_not_a_second_record() throws {
        let daemon = try DaemonHarness()
        try daemon.start()
        let id = testID(77)
        let first = try Client(daemon.socket)
        try first.send(event("retry", id: id) + "\n")
        let original = first.readLine().map(Response.init)
        let second = try Client(daemon.socket)
        try second.send(event("retry", id: id) + "\n" + event("retry") + "\n")
        let again = second.readLines(2).map(Response.init)
        #expect(original?.ok == true && original?.id == id)
        #expect(again.first?.hash == original?.hash && again.first?.sequence == original?.sequence)
        #expect(again.last?.sequence == 2)
        // The window is rebuilt from the journal: a retry after a restart is still recognized.
        #expect(try daemon.terminate() == 0)
        try daemon.start()
        let third = try Client(daemon.socket)
        try third.send(event("retry", id: id) + "\n")
        #expect(third.readLine().map(Response.init)?.hash == original?.hash)
        #expect(try daemon.terminate() == 0)
        #expect(try daemon.journalLines().count == 2)
    }

    /// The ok line copies id, agent_id and hash from the sealed record's canonical bytes: an
    /// agent_id that needs escapes must come back in its canonical escaping, not the writer's,
    /// and be one chain however the writer escaped it.
    @Test func an_agent_id_with_quotes_and_backslashes_is_answered_in_canonical_form_and_chained_once() throws {
        let daemon = try DaemonHarness()
        try daemon.start()
        let client = try Client(daemon.socket)
        let id = testID(7)
        // Decoded, all three name the agent q"b\s/é (two bytes of UTF-8 at the end).
        let sent = [
            #"{"agent_id":"q\"b\\s\/\u00e9","id":"\#(id)"}"#,
            #"{"agent_id":"q\u0022b\u005cs/é"}"#,
            #"{"agent_id":"q\"b\\s/\u00E9","id":"\#(id)"}"#,  // a retry: answered from the dedupe window
        ]
        try client.send(sent.map { $0 + "\n" }.joined())
        let lines = client.readLines(3)
        #expect(lines.count == 3)
        let canonicalAgent = #""q\"b\\s/é""#
        func expectOK(_ line: String, id: String?, sequence: Int) {
            let prefix = "{\"ok\":true,\"id\":\"" + (id ?? Response(line).id ?? "?") + "\",\"agent_id\":" + canonicalAgent
                + ",\"sequence\":\(sequence),\"hash\":\""
            #expect(line.hasPrefix(prefix), "\(line)")
            #expect(line.utf8.count == prefix.utf8.count + 64 + 2, "\(line)")
            #expect(Response(line).agentID == "q\"b\\s/é")
        }
        guard lines.count == 3 else { return }
        expectOK(lines[0], id: id, sequence: 1)
        expectOK(lines[1], id: nil, sequence: 2)
        #expect(lines[2] == lines[0])
        let generated = Response(lines[1]).id ?? ""
        #expect(UUIDText.isCanonical(generated) && generated != id)
        #expect(try daemon.terminate() == 0)
        // The answered hashes are the journal's records', and the chain verifies.
        var byID: [String: String] = [:]
        for line in try daemon.journalLines() {
            let record = try JSONSerialization.jsonObject(with: Data(line)) as! [String: Any]
            #expect(record["agent_id"] as? String == "q\"b\\s/é")
            byID[record["id"] as! String] = record["hash"] as? String
        }
        #expect(byID.count == 2)
        #expect(byID[id] == Response(lines[0]).hash && byID[generated] == Response(lines[1]).hash)
        let report = try daemon.verifyJournal()
        #expect(report.failure == nil && report.records == 2 && report.chains == 1)
    }

    @Test func an_ok_arrives_only_after_the_durable_checkpoint_covers_the_record() throws {
        let daemon = try DaemonHarness()
        try daemon.start()
        let client = try Client(daemon.socket)
        // One line at a time: the n-th record is host_seq n. The checkpoint is written after the
        // fdatasync and before any response is released, so it must already cover each ok.
        for n in 1...150 {
            try client.send(event("durable-\(n % 3)") + "\n")
            #expect(client.readLine().map(Response.init)?.ok == true)
            let durable = try DurableCheckpoint.read(journalDirectory: daemon.dataDir + "/journal") ?? 0
            #expect(durable >= UInt64(n), "ok for host_seq \(n) arrived while the checkpoint said \(durable)")
            if durable < UInt64(n) { break }
        }
    }

    @Test func records_carry_host_id_received_at_and_the_kernel_reported_origin() throws {
        let daemon = try DaemonHarness()
        try daemon.start()
        let client = try Client(daemon.socket)
        try client.send(event("who") + "\n")
        #expect(client.readLine().map(Response.init)?.ok == true)
        #expect(try daemon.terminate() == 0)
        let line = try daemon.journalLines()[0]
        let record = try JSONSerialization.jsonObject(with: Data(line)) as! [String: Any]
        #expect(record["host_id"] as? String == "test-host")
        #expect((record["received_at"] as? String)?.hasSuffix("Z") == true)
        let origin = record["origin"] as! [String: Any]
        #expect(origin["transport"] as? String == "unix")
        #expect((origin["uid"] as! NSNumber).uint32Value == getuid())
        #expect((origin["gid"] as! NSNumber).uint32Value == getgid())
        #expect((origin["pid"] as! NSNumber).int32Value == getpid())
    }
}

/// Per-writer results filled in from many threads.
final class ResultBox: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [[Response]]
    init(count: Int) { values = Array(repeating: [], count: count) }
    func set(_ index: Int, _ value: [Response]) { lock.lock(); values[index] = value; lock.unlock() }
    func get(_ index: Int) -> [Response] { lock.lock(); defer { lock.unlock() }; return values[index] }
}
