import Foundation

/// Counters for GET /metrics (Prometheus text format 0.0.4).
public final class ServerMetrics: @unchecked Sendable {
    private let lock = NSLock()
    private var requests: [String: Int] = [:]  // "route\u{0}status"
    private var requestSeconds: Double = 0
    private var batches: [String: Int] = [:]  // outcome
    private var records: [String: Int] = [:]  // path
    private var incidents: [String: Int] = [:]  // kind
    private var commits = 0
    private var commitJobs = 0
    private var commitSeconds: Double = 0
    private static let bucketBounds: [Double] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]
    private var commitBuckets = [Int](repeating: 0, count: bucketBounds.count)

    public init() {}

    func request(route: String, status: Int, seconds: Double) {
        lock.lock(); defer { lock.unlock() }
        requests["\(route)\u{0}\(status)", default: 0] += 1
        requestSeconds += seconds
    }

    func batch(_ outcome: String, records count: Int) {
        lock.lock(); defer { lock.unlock() }
        batches[outcome, default: 0] += 1
        records["relay", default: 0] += count
    }

    func directRecords(_ count: Int) {
        lock.lock(); defer { lock.unlock() }
        records["direct", default: 0] += count
    }

    func incident(_ kind: String) {
        lock.lock(); defer { lock.unlock() }
        incidents[kind, default: 0] += 1
    }

    func commit(jobs: Int, seconds: Double) {
        lock.lock(); defer { lock.unlock() }
        commits += 1
        commitJobs += jobs
        commitSeconds += seconds
        for (index, bound) in Self.bucketBounds.enumerated() where seconds <= bound { commitBuckets[index] += 1 }
    }

    public func render() -> String {
        lock.lock(); defer { lock.unlock() }
        var out = "# HELP ledger_http_requests_total HTTP requests by route and status.\n"
        out += "# TYPE ledger_http_requests_total counter\n"
        for (key, count) in requests.sorted(by: { $0.key < $1.key }) {
            let parts = key.split(separator: "\u{0}", omittingEmptySubsequences: false)
            out += "ledger_http_requests_total{route=\"\(parts[0])\",status=\"\(parts[1])\"} \(count)\n"
        }
        out += "# HELP ledger_relay_batches_total Relay batches by outcome.\n# TYPE ledger_relay_batches_total counter\n"
        for (outcome, count) in batches.sorted(by: { $0.key < $1.key }) {
            out += "ledger_relay_batches_total{outcome=\"\(outcome)\"} \(count)\n"
        }
        out += "# HELP ledger_records_stored_total Records stored by ingest path.\n"
        out += "# TYPE ledger_records_stored_total counter\n"
        for (path, count) in records.sorted(by: { $0.key < $1.key }) {
            out += "ledger_records_stored_total{path=\"\(path)\"} \(count)\n"
        }
        out += "# HELP ledger_incidents_total Integrity incidents recorded.\n# TYPE ledger_incidents_total counter\n"
        for (kind, count) in incidents.sorted(by: { $0.key < $1.key }) {
            out += "ledger_incidents_total{kind=\"\(kind)\"} \(count)\n"
        }
        out += "# HELP ledger_store_commit_seconds Store transaction (group commit) latency.\n"
        out += "# TYPE ledger_store_commit_seconds histogram\n"
        for (index, bound) in Self.bucketBounds.enumerated() {
            out += "ledger_store_commit_seconds_bucket{le=\"\(bound)\"} \(commitBuckets[index])\n"
        }
        out += "ledger_store_commit_seconds_bucket{le=\"+Inf\"} \(commits)\n"
        out += "ledger_store_commit_seconds_sum \(commitSeconds)\nledger_store_commit_seconds_count \(commits)\n"
        out += "# HELP ledger_store_jobs_total Writes grouped into store transactions.\n"
        out += "# TYPE ledger_store_jobs_total counter\nledger_store_jobs_total \(commitJobs)\n"
        return out
    }
}
