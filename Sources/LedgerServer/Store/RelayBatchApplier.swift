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
//   - declared predecessor p > H: pending, nothing written (p is still on its way: a relay
//     with several batches in flight; never a gap, see docs/FORMAT.md §5)
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
        guard let state = try tx.hostState(hostID: host) else {
            throw StoreError.corrupt("host \(host) vanished during a batch")
        }
        guard state.kind == .relay else { throw StoreError.hostTaken(host, state.kind) }
        // The route verified the batch against the row it read before the batch waited for its
        // predecessor or the writer; a revocation or key rotation since then must hold for it
        // too. Read in the same locked row read as the stored host_seq, so no change can slip in
        // between this check and COMMIT.
        if let verifiedKey = batch.verifiedPublicKey {
            if state.revoked { throw StoreError.hostRevoked(host) }
            if state.publicKey != verifiedKey { throw StoreError.hostKeyChanged(host) }
        }
        let stored = state.lastHostSeq
        // Read under the transaction's host lock (PostgreSQL: FOR UPDATE; SQLite: the one
        // writer), so a predecessor committing on another server is seen or waited for, and a
        // batch that outran it is never taken for records lost on the host.
        if let promised = batch.predecessorHostSeq, promised > stored {
            return .predecessorPending(storedHostSeq: stored)
        }
        let rows = batch.rows.rows
        var replayed = 0
        for row in rows where row.hostSeq <= stored {
            let seq = row.hostSeq
            let agentID = batch.rows.agentID(row)
            guard let hash = try tx.storedHash(hostID: host, hostSeq: seq) else {
                return try fork(agentID, "host_seq \(seq) falls in a recorded gap below the stored "
                                + "host_seq \(stored); a late record cannot be inserted behind the head")
            }
            guard hash == row.hash else {
                return try fork(agentID, "host_seq \(seq): stored hash \(hash.hex), batch hash \(row.hash.hex)")
            }
            replayed += 1
        }
        if replayed == rows.count { return .replay(records: replayed) }

        let fresh = replayed..<rows.count
        var incidents: [Incident] = []
        let firstNew = rows[replayed].hostSeq
        if firstNew > stored + 1 {
            incidents.append(Incident(kind: .hostGap, hostID: host, batchSeq: batch.batchSeq,
                                      detail: "host_seq \(stored + 1)…\(firstNew - 1) missing: "
                                        + "\(firstNew - stored - 1) record(s) lost before this batch",
                                      createdAtMicros: now))
        }
        struct Pending { var head: ChainHead?; var first: UInt64; var added: Int }
        // Indexed by the batch's agent number: no string hashing per record.
        var chains = [Pending?](repeating: nil, count: batch.rows.agents.count)
        for row in rows[fresh] {
            var pending: Pending
            if let known = chains[Int(row.agent)] {
                pending = known
            } else {
                let head = try tx.chainHead(hostID: host, agentID: batch.rows.agentID(row))
                pending = Pending(head: head, first: head == nil ? row.sequence : 0, added: 0)
            }
            let headSeq = pending.head?.sequence ?? 0
            let headHash = pending.head?.hash ?? .zero
            if row.sequence <= headSeq {
                let agentID = batch.rows.agentID(row)
                return try fork(agentID, "chain \(agentID): sequence \(row.sequence) is already stored "
                                + "(head \(headSeq)) with another record; batch hash \(row.hash.hex)")
            }
            if row.sequence == headSeq + 1, row.prevHash != headHash {
                let agentID = batch.rows.agentID(row)
                return try fork(agentID, "chain \(agentID): sequence \(row.sequence) has prev_hash "
                                + "\(row.prevHash.hex), stored head hash is \(headHash.hex)")
            }
            if row.sequence > headSeq + 1 {
                let agentID = batch.rows.agentID(row)
                incidents.append(Incident(kind: .sequenceGap, hostID: host, agentID: agentID,
                                          batchSeq: batch.batchSeq,
                                          detail: "chain \(agentID): sequence \(row.sequence) follows "
                                            + "\(headSeq); \(row.sequence - headSeq - 1) record(s) missing",
                                          createdAtMicros: now))
            }
            pending.head = ChainHead(sequence: row.sequence, hash: row.hash)
            pending.added += 1
            chains[Int(row.agent)] = pending
        }

        try tx.insert(batch.rows, hostID: host, range: fresh)
        for (agent, pending) in chains.enumerated() {
            guard let pending else { continue }
            try tx.updateChain(hostID: host, agentID: batch.rows.agents[agent], head: pending.head!,
                               firstSequence: pending.first, addedRecords: pending.added, lastActivityMicros: now)
        }
        let last = rows[rows.count - 1].hostSeq
        try tx.updateHost(hostID: host, lastHostSeq: last, addedRecords: fresh.count, lastActivityMicros: now)
        try tx.insertBatch(hostID: host, batchSeq: batch.batchSeq, lastHostSeq: last, bodySHA256: batch.bodySHA256,
                           records: rows.count, atMicros: now)
        for index in incidents.indices { incidents[index].id = try tx.insertIncident(incidents[index]) }
        return .stored(records: fresh.count, replayed: replayed, incidents: incidents)
    }
}
