import Foundation
import LedgerCore
import LedgerPosix

// POST /v1/relay/batches — a signed, zlib-compressed NDJSON range of one host's stream
// (docs/FORMAT.md §5). Checks, in order; each refusal is answered and counted:
//   401 unknown host, missing or bad signature headers
//   403 host revoked
//   400 X-Ledger-Body-SHA256 missing or not 64 hex digits
//   415 Content-Encoding is not deflate
//   401 signature not valid for the enrolled key over the message built with the CLAIMED
//       body digest: checked before a byte is decompressed, since host ids are not secret and
//       decompression is what costs memory (anyone could make the server inflate 64 MiB per
//       request to find out that the signature is wrong)
//   503 + Retry-After when decompressed batches in flight hold --batch-memory already
//   400 body does not decompress, body is not the one the claimed digest names, a record
//       malformed / not canonical / hash mismatch / of another host / host_seq not contiguous
//   413 compressed body over --max-body (before reading) or decompressed over --max-batch-bytes
//   then, for a batch declaring its predecessor, the HostOrderGate (RelayBatches+Ordering.swift),
//   answered `.later` when it has to wait (HTTPAnswer: never on an HTTP pool thread):
//   503 + Retry-After when the predecessor is not stored in time or failed
//   then one store transaction (RelayBatchApplier): 200 stored | 200 replay | 409 fork (+ incident)
//   | 503 predecessor pending

struct RelayBatchResponder: Responder {
    let store: Store
    let metrics: ServerMetrics
    let maxBatchBytes: Int
    let orderGate: HostOrderGate
    let budget: DecompressionBudget
    let log: Logger

    struct Refusal: HTTPResponseError {
        var status: Int
        var code: String
        var message: String
        var headers: [(String, String)] = []
    }

    func respond(to request: HTTPRequest, context: RequestContext) throws -> HTTPResponse {
        try answer(to: request, context: context).waited()
    }

    func answer(to request: HTTPRequest, context: RequestContext) throws -> HTTPAnswer {
        do {
            return try handle(request, context)
        } catch let refusal as Refusal {
            metrics.batch("refused_\(refusal.status)", records: 0)
            warnRefused(request.header(RelayBatch.hostHeader), request.header(RelayBatch.batchSeqHeader),
                        refusal.status, refusal.code, refusal.message)
            throw refusal
        }
    }

    private func handle(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPAnswer {
        guard let hostID = request.header(RelayBatch.hostHeader), RelayBatch.isValidHostID(hostID),
              let host = try store.host(id: hostID), host.kind == .relay, let keyText = host.publicKey else {
            throw Refusal(status: 401, code: "UNKNOWN_HOST", message: "the host is not enrolled")
        }
        guard !host.revoked else { throw Refusal(status: 403, code: "HOST_REVOKED", message: "host \(hostID) is revoked") }
        guard let seqText = request.header(RelayBatch.batchSeqHeader), let batchSeq = RelayBatch.parseBatchSeq(seqText)
        else { throw Refusal(status: 400, code: "BAD_BATCH_SEQ", message: "X-Ledger-Batch-Seq must be a decimal from 1") }
        guard let signatureText = request.header(RelayBatch.signatureHeader),
              let signature = Data(base64Encoded: signatureText), signature.count == 64 else {
            throw Refusal(status: 401, code: "BAD_SIGNATURE", message: "X-Ledger-Signature must be a base64 Ed25519 signature")
        }
        guard let claimedText = request.header(RelayBatch.bodySHA256Header) else {
            throw Refusal(status: 400, code: "MISSING_BODY_HASH",
                          message: "X-Ledger-Body-SHA256 (hex SHA-256 of the uncompressed body) is required")
        }
        guard let claimed = SHA256Digest(hex: claimedText.lowercased()) else {
            throw Refusal(status: 400, code: "BAD_BODY_HASH",
                          message: "X-Ledger-Body-SHA256 must be 64 hex digits")
        }
        guard (request.header("content-encoding") ?? "").lowercased() == RelayBatch.contentEncoding else {
            throw Refusal(status: 415, code: "UNSUPPORTED_ENCODING", message: "the body must be Content-Encoding: deflate")
        }
        let predecessor = try declaredPredecessor(request, batchSeq: batchSeq)
        let message = Self.signedMessage(hostID: hostID, batchSeq: batchSeq, predecessor: predecessor, claimed)
        guard let key = try? Ed25519PublicKey(base64: keyText), key.isValidSignature(Array(signature), for: message) else {
            throw Refusal(status: 401, code: "BAD_SIGNATURE", message: "the signature does not verify with the host's key")
        }
        let claim = BudgetClaim(budget)
        let body: [UInt8]
        do {
            body = try Zlib.decompress(request.body, maxOutputBytes: maxBatchBytes, admit: claim.take)
        } catch .outputTooLarge {
            throw Refusal(status: 413, code: "BATCH_TOO_LARGE",
                          message: "the decompressed batch exceeds \(maxBatchBytes) bytes")
        } catch .notAdmitted {
            throw Refusal(status: 503, code: "BATCH_MEMORY_FULL",
                          message: "decompressed batches in flight hold the server's --batch-memory "
                            + "(\(budget.limit) bytes); send it again", headers: [("Retry-After", "1")])
        } catch {
            throw Refusal(status: 400, code: "BAD_COMPRESSION", message: "the body does not decompress: \(error)")
        }
        let digest = SHA256Hasher().hash(body)
        guard digest == claimed else {
            throw Refusal(status: 400, code: "BODY_HASH_MISMATCH",
                          message: "X-Ledger-Body-SHA256 does not match the decompressed body")
        }
        // The decompressed body becomes the rows' buffer: lines are stored as ranges of it, uncopied.
        var rows = IngestRows(body: body, expectedRows: body.count / 256)
        let reader = RecordReader()
        let checked: RelayBatchBodyError? = body.withUnsafeBytes { bytes in
            do throws(RelayBatchBodyError) {
                try RelayBatch.readBody(bytes, hostID: hostID, batchSeq: batchSeq, reader: reader) { line, facts in
                    // SAFETY: `line` is a slice of `bytes`, so its offset from the base is its offset in `body`.
                    rows.appendLine(start: line.baseAddress! - bytes.baseAddress!, count: line.count, facts: facts)
                }
                return nil
            } catch { return error }
        }
        if let checked { throw Refusal(status: 400, code: "BAD_BATCH", message: checked.description) }
        let batch = VerifiedRelayBatch(hostID: hostID, batchSeq: batchSeq, bodySHA256: digest, rows: rows,
                                       receivedAtMicros: context.receivedAtMicros, predecessorHostSeq: predecessor,
                                       verifiedPublicKey: keyText)
        let storedHint = host.lastHostSeq
        // The claim lives as long as the body (the rows' buffer): through the wait and the store.
        if let predecessor, !orderGate.isStored(hostID: hostID, through: predecessor, storedHint: storedHint) {
            // It waits for another request, which must not find this thread taken (HTTPAnswer).
            return .later { try withExtendedLifetime(claim) { try apply(batch, storedHint: storedHint) } }
        }
        return .now(try withExtendedLifetime(claim) { try apply(batch, storedHint: storedHint) })
    }

    /// One warning line per refused batch (ARCHITECTURE.md invariant 5: every refusal is logged).
    /// Host and batch_seq are as sent; logfmt quoting keeps a hostile header on its own field.
    func warnRefused(_ host: String?, _ batchSeq: String?, _ status: Int, _ code: String, _ detail: String) {
        log.warn("relay batch refused", ["host": host ?? "-", "batch_seq": batchSeq ?? "-", "status": status,
                                         "code": code, "detail": detail])
    }

    /// Applies the checked batch in host_seq order (RelayBatches+Ordering.swift) and answers.
    private func apply(_ batch: VerifiedRelayBatch, storedHint: UInt64) throws -> HTTPResponse {
        let (hostID, batchSeq, records) = (batch.hostID, batch.batchSeq, batch.rows.rows)
        let outcome: RelayBatchOutcome
        do {
            outcome = try appendInOrder(batch, storedHint: storedHint)
        } catch let error as StoreError {
            switch error {
            case .hostRevoked, .hostKeyChanged:
                metrics.batch("refused_\(error.status)", records: 0)
                warnRefused(hostID, String(batchSeq), error.status, error.code, error.message)
            default: break
            }
            throw error
        }
        switch outcome {
        case let .stored(stored, replayed, incidents):
            metrics.batch("stored", records: stored)
            for incident in incidents {
                metrics.incident(incident.kind.rawValue)
                log.warn("integrity incident recorded", ["kind": incident.kind.rawValue, "host": hostID,
                                                         "batch_seq": batchSeq, "agent_id": incident.agentID ?? "-",
                                                         "code": incident.kind.rawValue.uppercased(),
                                                         "detail": incident.detail])
            }
            return .json(200, .object([
                ("status", .string("stored")), ("host_id", .string(hostID)), ("batch_seq", .uint(batchSeq)),
                ("records", .int(Int64(records.count))), ("stored", .int(Int64(stored))),
                ("replayed", .int(Int64(replayed))),
                ("last_host_seq", .uint(batchSeq + UInt64(records.count) - 1)),
                ("incidents", .array(incidents.map(incidentJSON))),
            ]))
        case let .replay(count):
            metrics.batch("replay", records: 0)
            // The same success as the original answer; `status` tells the relay nothing new was stored.
            return .json(200, .object([
                ("status", .string("replay")), ("host_id", .string(hostID)), ("batch_seq", .uint(batchSeq)),
                ("records", .int(Int64(count))), ("stored", .int(0)), ("replayed", .int(Int64(count))),
                ("last_host_seq", .uint(batchSeq + UInt64(count) - 1)), ("incidents", .array([])),
            ]))
        case let .fork(incident):
            metrics.batch("fork", records: 0)
            metrics.incident(incident.kind.rawValue)
            log.warn("integrity incident recorded, relay batch refused", [
                "kind": incident.kind.rawValue, "host": hostID, "batch_seq": batchSeq,
                "agent_id": incident.agentID ?? "-", "status": 409, "code": "FORK", "detail": incident.detail])
            return .json(409, .object([("error", .object([
                ("code", .string("FORK")), ("message", .string(incident.detail)),
                ("incident", incidentJSON(incident)),
            ]))]))
        case let .predecessorPending(stored):
            throw predecessorPending(batch, storedHostSeq: stored)
        }
    }
}
