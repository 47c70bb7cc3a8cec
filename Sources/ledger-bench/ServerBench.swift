import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import LedgerCore

// `ledger-bench server`: N simulated hosts send signed, compressed relay batches to a
// running ledger-server concurrently; prints stored records/s, batches/s and p99 batch latency.
// Batches are generated before the clock starts, so the figures measure the server
// (decompress, verify signature, re-hash every record, check chains, commit).

enum ServerBench {
    static func run(_ arguments: [String]) throws {
        var options: [String: String] = ["url": "http://127.0.0.1:7600", "hosts": "50", "batches": "20",
                                         "batch-size": "1000", "server": "", "data-dir": ""]
        var index = 0
        while index < arguments.count {
            let name = arguments[index].hasPrefix("--") ? String(arguments[index].dropFirst(2)) : ""
            guard options[name] != nil, index + 1 < arguments.count else {
                throw BenchError("usage: ledger-bench server --url URL --hosts N --batches B --batch-size S "
                                 + "--server PATH/ledger-server --data-dir DIR")
            }
            options[name] = arguments[index + 1]
            index += 2
        }
        let hostCount = Int(options["hosts"]!)!, batchCount = Int(options["batches"]!)!
        let batchSize = Int(options["batch-size"]!)!
        let url = URL(string: options["url"]! + "/v1/relay/batches")!

        let prefix = "bench-\(UInt32.random(in: 0...UInt32.max))"
        print("generating \(hostCount) hosts × \(batchCount) batches × \(batchSize) records…")
        var planned: [[EncodedRelayBatch]] = []
        for host in 0..<hostCount {
            let simulated = SimulatedHost(hostID: "\(prefix)-\(host)", key: try Ed25519PrivateKey())
            try enroll(simulated, server: options["server"]!, dataDir: options["data-dir"]!)
            planned.append(try (0..<batchCount).map { _ in try simulated.nextBatch(batchSize) })
        }
        let bytes = planned.joined().reduce(0) { $0 + $1.compressedBody.count }
        let plans = planned
        print("sending \(bytes / 1_000_000) MB compressed")

        let plannedBatches = plans
        // One connection per host, as real relays have (URLSession's default is 6 per server).
        let configuration = URLSessionConfiguration.ephemeral
        configuration.httpMaximumConnectionsPerHost = hostCount
        configuration.timeoutIntervalForRequest = 300
        let session = URLSession(configuration: configuration)
        let lock = NSLock()
        nonisolated(unsafe) var latencies: [Double] = []
        nonisolated(unsafe) var failures = 0
        let started = DispatchTime.now().uptimeNanoseconds
        // One thread per host (concurrentPerform would cap concurrency at the core count).
        let group = DispatchGroup()
        for host in 0..<hostCount {
            group.enter()
            Thread {
            for batch in plannedBatches[host] {
                var request = URLRequest(url: url)
                request.httpMethod = "POST"
                for (name, value) in batch.headers { request.setValue(value, forHTTPHeaderField: name) }
                request.httpBody = Data(batch.compressedBody)
                let begin = DispatchTime.now().uptimeNanoseconds
                let done = DispatchSemaphore(value: 0)
                nonisolated(unsafe) var status = 0
                session.dataTask(with: request) { _, response, _ in
                    status = (response as? HTTPURLResponse)?.statusCode ?? 0
                    done.signal()
                }.resume()
                done.wait()
                let seconds = Double(DispatchTime.now().uptimeNanoseconds - begin) / 1e9
                lock.lock()
                latencies.append(seconds)
                if status != 200 { failures += 1 }
                lock.unlock()
            }
            group.leave()
            }.start()
        }
        group.wait()
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        latencies.sort()
        let batches = hostCount * batchCount
        let p99 = latencies[min(latencies.count - 1, Int(Double(latencies.count) * 0.99))]
        print(String(format: "stored %d records in %.2f s: %.0f records/s, %.1f batches/s, p50 %.1f ms, p99 %.1f ms, %d failed",
                     batches * batchSize, elapsed, Double(batches * batchSize) / elapsed, Double(batches) / elapsed,
                     latencies[latencies.count / 2] * 1000, p99 * 1000, failures))
        if failures > 0 { throw BenchError("\(failures) batches were not answered 200") }
    }

    static func enroll(_ host: SimulatedHost, server: String, dataDir: String) throws {
        guard !server.isEmpty else { return }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: server)
        process.arguments = ["hosts", "add", host.hostID, host.key.publicKey.base64, "--data-dir", dataDir,
                             "--config", "/dev/null"]
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw BenchError("hosts add \(host.hostID) failed") }
    }
}

