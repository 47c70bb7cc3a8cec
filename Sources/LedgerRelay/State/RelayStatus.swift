// The relay's status document, `<state-dir>/status.json`: one JSON object,
// replaced (temporary file + rename, no fsync: it is advisory) on every state
// change and every progress interval. `ledgerctl status` shows it through
// `RelayStatus.read` and `summaryLines`.

import Foundation
import LedgerPosix

/// Where forwarding stands.
public enum RelayState: String, Sendable {
    /// Reading the journal, waiting for ledgerd's first segment, or enrolling.
    case starting
    /// Sending, or caught up and waiting for new records.
    case forwarding
    /// The last attempt failed (no answer, 429, 5xx): waiting out the backoff, then retrying.
    case backingOff = "backing-off"
    /// The server refused the batch's content (400 …): retried with backoff; or refused it as too
    /// large (413) and the relay cuts smaller batches; see `reason`.
    case rejected
    /// The server refused the relay itself (401, 403, 409), a 2xx was not ledger-server's
    /// acknowledgement of the batch, the answer says the relay talks to the wrong place (3xx, 404,
    /// 405, 415), or one record is too large (413): forwarding stopped until SIGHUP or a
    /// restart; see `reason`.
    case stopped
}

/// A snapshot of the relay, as written to and read from the status file.
public struct RelayStatus: Sendable, Equatable {
    public static let fileName = "status.json"

    public var state: RelayState = .starting
    /// Why the state is not `forwarding` (the server's exact code and message).
    public var reason: String?
    public var hostID: String?
    public var server: String = ""
    public var pid: Int32 = 0
    /// The last host_seq the server acknowledged (what the cursor says).
    public var ackedHostSeq: UInt64 = 0
    /// The journal's durable host_seq when the status was written.
    public var durableHostSeq: UInt64 = 0
    public var recordsBehind: UInt64 { durableHostSeq > ackedHostSeq ? durableHostSeq - ackedHostSeq : 0 }
    /// Acknowledged records per second over the last progress interval.
    public var recordsPerSecond: Double = 0
    /// Seconds until caught up at that rate; nil when caught up or not moving.
    public var etaSeconds: Double?
    public var batchesSent: UInt64 = 0
    public var recordsSent: UInt64 = 0
    public var replayedBatches: UInt64 = 0
    public var failedAttempts: UInt64 = 0
    public var bytesUncompressed: UInt64 = 0
    public var bytesOnWire: UInt64 = 0
    public var lastError: String?
    /// A durable record the relay cannot read, which holds forwarding back (JournalReader.Stall).
    public var journalStall: String?
    public var lastErrorAtMicros: Int64?
    public var lastSuccessAtMicros: Int64?
    public var updatedAtMicros: Int64 = 0

    public init() {}

    /// The document's JSON (keys sorted, one line).
    public func encoded() -> [UInt8] {
        var object: [String: Any] = [
            "state": state.rawValue, "server": server, "pid": Int(pid), "acked_host_seq": ackedHostSeq,
            "durable_host_seq": durableHostSeq, "records_behind": recordsBehind,
            "records_per_second": (recordsPerSecond * 10).rounded() / 10, "batches_sent": batchesSent,
            "records_sent": recordsSent, "replayed_batches": replayedBatches, "failed_attempts": failedAttempts,
            "bytes_uncompressed": bytesUncompressed, "bytes_on_wire": bytesOnWire,
            "updated_at": SystemClock.rfc3339(microseconds: updatedAtMicros),
        ]
        if let reason { object["reason"] = reason }
        if let hostID { object["host_id"] = hostID }
        if let etaSeconds { object["eta_seconds"] = etaSeconds.rounded() }
        if let lastError { object["last_error"] = lastError }
        if let journalStall { object["journal_stalled"] = journalStall }
        if let lastErrorAtMicros { object["last_error_at"] = SystemClock.rfc3339(microseconds: lastErrorAtMicros) }
        if let lastSuccessAtMicros {
            object["last_success_at"] = SystemClock.rfc3339(microseconds: lastSuccessAtMicros)
        }
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return Array(data) + [0x0A]
    }

    /// Parses a status document; nil when it is not one.
    public static func decode(_ bytes: [UInt8]) -> RelayStatus? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any],
              let stateText = object["state"] as? String, let state = RelayState(rawValue: stateText) else { return nil }
        func number(_ name: String) -> UInt64 { (object[name] as? NSNumber)?.uint64Value ?? 0 }
        var status = RelayStatus()
        status.state = state
        status.reason = object["reason"] as? String
        status.hostID = object["host_id"] as? String
        status.server = object["server"] as? String ?? ""
        status.pid = Int32(truncatingIfNeeded: number("pid"))
        status.ackedHostSeq = number("acked_host_seq")
        status.durableHostSeq = number("durable_host_seq")
        status.recordsPerSecond = (object["records_per_second"] as? NSNumber)?.doubleValue ?? 0
        status.etaSeconds = (object["eta_seconds"] as? NSNumber)?.doubleValue
        status.batchesSent = number("batches_sent")
        status.recordsSent = number("records_sent")
        status.replayedBatches = number("replayed_batches")
        status.failedAttempts = number("failed_attempts")
        status.bytesUncompressed = number("bytes_uncompressed")
        status.bytesOnWire = number("bytes_on_wire")
        status.lastError = object["last_error"] as? String
        status.journalStall = object["journal_stalled"] as? String
        return status
    }

    /// The status in the relay's state directory, or nil when there is none (relay never ran).
    public static func read(stateDirectory: String) -> RelayStatus? {
        guard let bytes = try? FileSystem.readFile(stateDirectory + "/" + fileName, limit: 1 << 20) else { return nil }
        return decode(bytes)
    }

    /// Lines for `ledgerctl status`, aligned like its other sections.
    public func summaryLines() -> [String] {
        var lines = ["relay         \(state.rawValue)\(reason.map { ": " + $0 } ?? "")"]
        var progress = "              acked host_seq \(ackedHostSeq), durable \(durableHostSeq), "
            + "\(recordsBehind) records behind"
        if recordsPerSecond > 0 { progress += ", \(Int(recordsPerSecond)) records/s" }
        if let etaSeconds { progress += ", caught up in ~\(Int(etaSeconds)) s" }
        lines.append(progress)
        if let journalStall { lines.append("              JOURNAL STALLED: \(journalStall)") }
        if let lastError { lines.append("              last error: \(lastError)") }
        return lines
    }

    /// Replaces the status file (temporary file + rename; no fsync, the document is advisory).
    /// One writer at a time (StatusBoard's write lock): the temporary file's name is fixed.
    func write(to path: String) throws {
        let temporary = path + ".tmp"
        let fd = try FileDescriptor.open(temporary, .writeOnly, options: [.create, .truncate], permissions: 0o644)
        try fd.closeAfter { try fd.write(encoded()) }
        try FileSystem.rename(temporary, to: path)
    }
}
