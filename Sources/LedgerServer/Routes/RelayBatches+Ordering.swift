import LedgerCore

// The ordering step of POST /v1/relay/batches, between the checks and the store
// transaction: a batch that declared its predecessor (X-Ledger-Predecessor) waits in the
// HostOrderGate until the host's stream is stored through it, so several batches of one
// host can be verified at once while they are still applied in host_seq order. A batch
// without the declaration goes straight to the store, as before (a gap there is a gap).

extension RelayBatchResponder {
    /// A batch held back because its predecessor is not stored: 503 with Retry-After. Nothing
    /// of it was stored and nothing was recorded; the relay sends it again.
    struct OrderRefusal: HTTPResponseError {
        var status: Int { 503 }
        var code: String
        var message: String
        var headers: [(String, String)] { [("Retry-After", "1")] }
    }

    /// X-Ledger-Predecessor when the relay sent it; a malformed one is a 400.
    func declaredPredecessor(_ request: HTTPRequest, batchSeq: UInt64) throws -> UInt64? {
        guard let text = request.header(RelayBatch.predecessorHeader) else { return nil }
        guard let value = RelayBatch.parsePredecessor(text, batchSeq: batchSeq) else {
            throw Refusal(status: 400, code: "BAD_PREDECESSOR",
                          message: "X-Ledger-Predecessor must be a decimal below X-Ledger-Batch-Seq")
        }
        return value
    }

    /// The message the host signed: with a declared predecessor the v2 message, which covers it
    /// (stripped or changed on the way, the signature fails), else the v1 message.
    static func signedMessage(hostID: String, batchSeq: UInt64, predecessor: UInt64?,
                              _ bodySHA256: SHA256Digest) -> [UInt8] {
        guard let predecessor else {
            return RelayBatch.signingMessage(hostID: hostID, batchSeq: batchSeq, bodySHA256: bodySHA256)
        }
        return RelayBatch.signingMessage(hostID: hostID, batchSeq: batchSeq, predecessorHostSeq: predecessor,
                                         bodySHA256: bodySHA256)
    }

    /// Applies `batch` once its declared predecessor is stored. `storedHint`: the host's stored
    /// host_seq as read at the start of the request.
    func appendInOrder(_ batch: VerifiedRelayBatch, storedHint: UInt64) throws -> RelayBatchOutcome {
        let host = batch.hostID
        let last = batch.batchSeq + UInt64(batch.rows.rows.count) - 1
        if let predecessor = batch.predecessorHostSeq {
            let admission = orderGate.admit(hostID: host, batchSeq: batch.batchSeq, lastHostSeq: last,
                                            predecessor: predecessor, storedHint: storedHint,
                                            readStored: { try store.host(id: host)?.lastHostSeq })
            let refusal: OrderRefusal? = switch admission {
            case .proceed: nil
            case let .timedOut(stored):
                OrderRefusal(code: "PREDECESSOR_PENDING",
                             message: "batch \(batch.batchSeq) follows host_seq \(predecessor), which is not stored "
                                + "yet (stored: \(stored)) after waiting \(orderGate.maxWaitNanos / 1_000_000) ms; "
                                + "send it again")
            case let .predecessorFailed(reason):
                OrderRefusal(code: "PREDECESSOR_FAILED",
                             message: "batch \(batch.batchSeq) follows a batch that was not stored (\(reason)); "
                                + "send both again in order")
            case .tooManyWaiting:
                OrderRefusal(code: "PREDECESSOR_PENDING",
                             message: "too many batches of host \(host) wait for their predecessors; send it again")
            }
            if let refusal {
                // Its own successors depend on it; tell them now rather than at their timeout.
                orderGate.failed(hostID: host, firstHostSeq: batch.batchSeq, reason: refusal.code)
                metrics.batch("held_\(refusal.code.lowercased())", records: 0)
                throw refusal
            }
        }
        let outcome: RelayBatchOutcome
        do {
            outcome = try store.appendRelayBatch(batch)
        } catch {
            orderGate.failed(hostID: host, firstHostSeq: batch.batchSeq, reason: "store error: \(error)")
            throw error
        }
        switch outcome {
        case .stored, .replay:
            orderGate.stored(hostID: host, through: last)
        case .fork:
            orderGate.failed(hostID: host, firstHostSeq: batch.batchSeq, reason: "FORK")
        case let .predecessorPending(stored):
            orderGate.stored(hostID: host, through: stored)
            orderGate.failed(hostID: host, firstHostSeq: batch.batchSeq, reason: "PREDECESSOR_PENDING")
        }
        return outcome
    }

    /// The store found the declared predecessor missing (another server has not committed it yet).
    func predecessorPending(_ batch: VerifiedRelayBatch, storedHostSeq: UInt64) -> OrderRefusal {
        metrics.batch("held_predecessor_pending", records: 0)
        return OrderRefusal(code: "PREDECESSOR_PENDING",
                            message: "batch \(batch.batchSeq) follows host_seq \(batch.predecessorHostSeq ?? 0), "
                                + "which is not stored yet (stored: \(storedHostSeq)); send it again")
    }
}
