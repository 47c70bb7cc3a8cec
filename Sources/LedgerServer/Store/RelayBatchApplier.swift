import LedgerCore

// INVARIANT (ARCHITECTURE.md 3, 4): a chain head moves only by +1 with a matching
// prev_hash, a host's host_seq only forward, inside the transaction that stores
// the records; an exact replay stores nothing and answers like the original.
//
// Decisions for one relay batch, all made before anything is written, so a
// refused batch leaves only its incident behind:
//
//   batch [first … last], stored host_seq H
//   - first … min(last, H): must equal what is stored (hash by hash), else fork
//   - last ≤ H: replay, nothing written
//   - next new host_seq > H + 1: host_gap incident, accepted
//   - per chain, head (s, h): sequence s+1 with prev_hash h continues;
//     sequence ≤ s, or s+1 with another prev_hash: fork (nothing stored);
//     sequence > s+1: sequence_gap incident, accepted

enum RelayBatchApplier {
    static func apply(_ batch: VerifiedRelayBatch, in tx: StoreTransaction) throws -> RelayBatchOutcome {
        let host = batch.hostID
        let now = batch.receivedAtMicros
        func fork(_ agentID: String?, _ detail: String) throws -> RelayBatchOutcome {
            var incident = Incident(kind: .fork, hostID: host, agentID: agentID, batchSeq: batch.batchSeq,
                                    detail: detail, createdAtMicros: now)
            incident.id = try tx.insertIncident(incident)
            return .fork(incident)
        }
        guard let stored = try tx.lastHostSeq(hostID: host) else {
            throw StoreError.corrupt("host \(host) vanished during a batch")
        }
        var replayed = 0
        for record in batch.records where record.facts.hostSeq <= stored {
            let seq = record.facts.hostSeq
            guard let hash = try tx.storedHash(hostID: host, hostSeq: seq) else {
                return try fork(record.facts.agentID, "host_seq \(seq) falls in a recorded gap below the stored "
                                + "host_seq \(stored); a late record cannot be inserted behind the head")
            }
            guard hash == record.facts.hash else {
                return try fork(record.facts.agentID, "host_seq \(seq): stored hash \(hash.hex), batch hash "
                                + "\(record.facts.hash.hex)")
            }
            replayed += 1
        }
        if replayed == batch.records.count { return .replay(records: replayed) }

        let fresh = batch.records[replayed...]
        var incidents: [Incident] = []
        let firstNew = fresh.first!.facts.hostSeq
        if firstNew > stored + 1 {
            incidents.append(Incident(kind: .hostGap, hostID: host, batchSeq: batch.batchSeq,
                                      detail: "host_seq \(stored + 1)…\(firstNew - 1) missing: "
                                        + "\(firstNew - stored - 1) record(s) lost before this batch",
                                      createdAtMicros: now))
        }
        struct Pending { var head: ChainHead?; var first: UInt64; var added: Int }
        var chains: [String: Pending] = [:]
        for record in fresh {
            let facts = record.facts
            var pending: Pending
            if let known = chains[facts.agentID] {
                pending = known
            } else {
                pending = Pending(head: try tx.chainHead(hostID: host, agentID: facts.agentID), first: 0, added: 0)
                pending.first = pending.head == nil ? facts.sequence : 0
            }
            let headSeq = pending.head?.sequence ?? 0
            let headHash = pending.head?.hash ?? .zero
            if facts.sequence <= headSeq {
                return try fork(facts.agentID, "chain \(facts.agentID): sequence \(facts.sequence) is already stored "
                                + "(head \(headSeq)) with another record; batch hash \(facts.hash.hex)")
            }
            if facts.sequence == headSeq + 1, facts.prevHash != headHash {
                return try fork(facts.agentID, "chain \(facts.agentID): sequence \(facts.sequence) has prev_hash "
                                + "\(facts.prevHash.hex), stored head hash is \(headHash.hex)")
            }
            if facts.sequence > headSeq + 1 {
                incidents.append(Incident(kind: .sequenceGap, hostID: host, agentID: facts.agentID,
                                          batchSeq: batch.batchSeq,
                                          detail: "chain \(facts.agentID): sequence \(facts.sequence) follows "
                                            + "\(headSeq); \(facts.sequence - headSeq - 1) record(s) missing",
                                          createdAtMicros: now))
            }
            pending.head = ChainHead(sequence: facts.sequence, hash: facts.hash)
            pending.added += 1
            chains[facts.agentID] = pending
        }

        for record in fresh { try tx.insert(record) }
        for (agentID, pending) in chains {
            try tx.updateChain(hostID: host, agentID: agentID, head: pending.head!, firstSequence: pending.first,
                               addedRecords: pending.added, lastActivityMicros: now)
        }
        let last = fresh.last!.facts.hostSeq
        try tx.updateHost(hostID: host, lastHostSeq: last, addedRecords: fresh.count, lastActivityMicros: now)
        try tx.insertBatch(hostID: host, batchSeq: batch.batchSeq, lastHostSeq: last, bodySHA256: batch.bodySHA256,
                           records: batch.records.count, atMicros: now)
        for index in incidents.indices { incidents[index].id = try tx.insertIncident(incidents[index]) }
        return .stored(records: fresh.count, replayed: replayed, incidents: incidents)
    }
}
