import LedgerCore
import LedgerJournal
import LedgerPosix

extension EventLoop {
    /// Chains listed by name in the status document; the count is always complete.
    static let statusChainLimit = 1000

    /// The status document sent on the admin socket: one canonical JSON line (docs/PROTOCOL.md).
    func statusDocument() -> [UInt8] {
        var o = JSONObjectWriter()
        o.string("host_id", configuration.hostID)
        o.number("uptime_seconds", UInt64(max(0, SystemClock.nowMicroseconds() - startedMicros) / 1_000_000))
        o.string("socket", configuration.socketPath)
        o.string("data_dir", configuration.dataDirectory)
        o.bool("draining", draining)

        var cursor: RelayCursor.Standing = .absent
        if !configuration.retention.standalone {
            let change: RelayCursorJudge.Change
            (cursor, change) = configuration.retention.cursorJudge.judge(
                path: configuration.retention.relayCursorPath, hostID: configuration.hostID,
                lastHostSeq: chains.lastHostSeq)
            if change == .ignored { log.error("ignoring the relay cursor", ["reason": cursor.ignoredReason ?? ""]) }
        }
        let acked = cursor.ackedHostSeq
        var journal = JSONObjectWriter()
        journal.number("segments", UInt64(progress.segments))
        journal.number("bytes", UInt64(max(0, progress.diskBytes)))
        journal.number("max_disk_bytes", UInt64(configuration.maxDiskBytes))
        journal.bool("disk_full", counters.diskFull || diskEstimate + Int64(recordOverhead) > configuration.maxDiskBytes)
        journal.number("disk_full_refusals", counters.diskFullRefusals)
        journal.number("last_host_seq", chains.lastHostSeq)
        journal.number("durable_host_seq", progress.durable)
        journal.number("quarantined_segments", UInt64(quarantinedCount()))
        journal.number("lost_durable_records", lostDurableAtStart)
        if let failure = progress.failure { journal.string("failure", failure) }
        o.object("journal", journal)

        var upstream = JSONObjectWriter()
        upstream.bool("standalone", configuration.retention.standalone)
        if let acked { upstream.number("acked_host_seq", acked) }
        upstream.number("unforwarded_records",
                        configuration.retention.standalone ? 0 : progress.durable - min(progress.durable, acked ?? 0))
        upstream.number("retain_seconds", UInt64(configuration.retention.retainMicros / 1_000_000))
        if !configuration.retention.standalone {
            upstream.string("relay_cursor", configuration.retention.relayCursorPath)
            if let reason = cursor.ignoredReason { upstream.string("relay_cursor_ignored", reason) }
        }
        o.object("upstream", upstream)

        var records = JSONObjectWriter()
        records.number("accepted", counters.accepted)
        records.number("deduplicated", counters.deduplicated)
        var rejected = JSONObjectWriter()
        for (code, count) in counters.rejected.sorted(by: { $0.key < $1.key }) { rejected.number(code, count) }
        records.object("rejected", rejected)
        records.number("responses_dropped", counters.droppedResponses)
        o.object("records", records)

        var conns = JSONObjectWriter()
        conns.number("open", UInt64(connections.values.filter { !$0.isAdmin }.count))
        conns.number("total", counters.connectionsTotal)
        conns.number("paused", UInt64(paused.count))
        conns.number("unread_paused", UInt64(unreadPaused.count))
        o.object("connections", conns)

        o.number("chain_count", UInt64(chains.chainCount))
        var list: [UInt8] = [UInt8(ascii: "[")]
        for (index, (agent, head)) in chains.heads.sorted(by: { $0.key < $1.key }).prefix(Self.statusChainLimit).enumerated() {
            if index > 0 { list.append(UInt8(ascii: ",")) }
            var chain = JSONObjectWriter()
            chain.string("agent_id", agent.string)
            chain.number("sequence", head.sequence)
            chain.string("head", head.hash.hex)
            list.append(contentsOf: chain.finish())
        }
        list.append(UInt8(ascii: "]"))
        o.raw("chains", list)
        var out = o.finish()
        out.append(UInt8(ascii: "\n"))
        return out
    }

    private func quarantinedCount() -> Int {
        let path = JournalPaths(dataDirectory: configuration.dataDirectory).quarantine
        return (try? FileSystem.contentsOfDirectory(path).count) ?? quarantinedAtStart
    }
}

/// A small JSON object builder for status output (members in insertion order).
struct JSONObjectWriter {
    private var out: [UInt8] = [UInt8(ascii: "{")]

    private mutating func key(_ name: String) {
        if out.count > 1 { out.append(UInt8(ascii: ",")) }
        JSONEscapes.writeCanonicalString(name, into: &out)
        out.append(UInt8(ascii: ":"))
    }

    mutating func string(_ name: String, _ value: String) {
        key(name)
        JSONEscapes.writeCanonicalString(value, into: &out)
    }

    mutating func number(_ name: String, _ value: UInt64) {
        key(name)
        appendDecimal(value, into: &out)
    }

    mutating func bool(_ name: String, _ value: Bool) {
        key(name)
        out.append(contentsOf: Array((value ? "true" : "false").utf8))
    }

    mutating func object(_ name: String, _ value: JSONObjectWriter) {
        raw(name, value.finish())
    }

    mutating func raw(_ name: String, _ json: [UInt8]) {
        key(name)
        out.append(contentsOf: json)
    }

    func finish() -> [UInt8] { out + [UInt8(ascii: "}")] }
}
