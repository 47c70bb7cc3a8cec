import Foundation

/// What the relay does with the server's answer to one batch.
enum ServerVerdict: Equatable {
    /// 2xx: the server holds the batch (`replay`: it already did). The cursor may advance.
    case delivered(replay: Bool)
    /// Worth retrying as is: no answer, timeout, 408, 425, 429, 5xx. Retried forever, not
    /// before `retryAfterMillis` when the server said so (Retry-After).
    case retry(String, retryAfterMillis: Int? = nil)
    /// A 4xx that names this batch (400 bad body …). Retried with the capped backoff, because
    /// the bytes the server saw may have been damaged on the way, and the status says
    /// `rejected` with the reason; nothing is skipped.
    case rejected(String)
    /// 413 for a batch of several records: the server or a proxy takes no request this large.
    /// Sending it again cannot help; the relay cuts the batches from this one again, smaller.
    case tooLarge(String)
    /// 401, 403, 409: the key, the enrollment or the history is wrong; retrying cannot fix
    /// it. Forwarding stops until an operator acts. Also an answer the relay cannot trust
    /// (a 2xx that is not ledger-server's acknowledgement of this very batch), and answers that
    /// say the relay talks to the wrong place (3xx, 404, 405, 415) or that one record alone is
    /// too large (413).
    case stop(status: Int, code: String, message: String)

    /// Classifies `outcome` for a batch that ends at `lastHostSeq` (and, when given, starts at
    /// `firstHostSeq`, belongs to `hostID` and is `wireBytes` long compressed).
    static func classify(_ outcome: HTTPOutcome, lastHostSeq: UInt64, firstHostSeq: UInt64? = nil,
                         hostID: String? = nil, wireBytes: Int? = nil) -> ServerVerdict {
        switch outcome {
        case let .failed(message):
            return .retry("no answer: \(message)")
        case let .response(status, body, details):
            let answer = ServerAnswer(body)
            let said = "\(answer.code ?? "")\(answer.message.map { ": " + $0 } ?? "")"
            let stated = said.isEmpty ? "no message from the server" : said
            switch status {
            case 200...299:
                return acknowledgement(status, answer, body, lastHostSeq: lastHostSeq, firstHostSeq: firstHostSeq,
                                       hostID: hostID)
            case 401, 403, 409:
                return .stop(status: status, code: answer.code ?? "HTTP_\(status)",
                             message: answer.message ?? "no message")
            case 408, 425, 429, 500...599:
                let (millis, overflow) = (details.retryAfterSeconds ?? 0).multipliedReportingOverflow(by: 1_000)
                return .retry("\(status) \(said)", retryAfterMillis: details.retryAfterSeconds == nil ? nil
                                 : overflow ? Int.max : millis)
            // Retrying the same request cannot change these answers: looping on them would hold
            // every later record back without a word. Stop and say what to fix instead.
            case 300...399:
                return .stop(status: status, code: "REDIRECTED",
                             message: "the server redirects to \(details.location ?? "(no Location header)"): set "
                                + "--server to ledger-server's base URL; the relay does not follow redirects")
            case 404, 405:
                return .stop(status: status, code: "WRONG_ENDPOINT",
                             message: "nothing at --server takes POST \(BatchMessage.batchPath) (\(stated)): check "
                                + "--server (ledger-server's base URL, without a path) and any proxy's routes")
            case 415:
                return .stop(status: status, code: "UNSUPPORTED_ENCODING",
                             message: "the deflate-encoded batch was refused (\(stated)): a proxy in between may "
                                + "rewrite or refuse Content-Encoding: let \(BatchMessage.batchPath) through unchanged")
            case 413:
                let size = wireBytes.map { "\($0) bytes on the wire" } ?? "the request"
                if let firstHostSeq, firstHostSeq == lastHostSeq {
                    return .stop(status: status, code: "RECORD_TOO_LARGE",
                                 message: "host_seq \(lastHostSeq) alone (\(size)) is too large for the server or a "
                                    + "proxy (\(stated)): raise the limit (ledger-server --max-body and "
                                    + "--max-batch-bytes, the proxy's body size limit), then restart ledger-relay")
                }
                return .tooLarge("413 \(said.isEmpty ? "TOO_LARGE" : said) (\(size))")
            default:
                return .rejected("\(status) \(said)")
            }
        }
    }

    /// A 2xx counts only as ledger-server's acknowledgement of this batch. Anything else that
    /// says 2xx (a proxy's catch-all 200 or 204, a captive portal, --server naming another
    /// service) would move the cursor past records the server never stored: every later batch
    /// would then declare a predecessor the server lacks (503 forever), and ledgerd's retention
    /// could delete the only copy. So such an answer stops forwarding instead.
    private static func acknowledgement(_ status: Int, _ answer: ServerAnswer, _ body: [UInt8], lastHostSeq: UInt64,
                                        firstHostSeq: UInt64?, hostID: String?) -> ServerVerdict {
        let advice = "check --server (ledger-server's base URL) and any proxy in between; the cursor stays put"
        guard answer.isObject, let last = answer.lastHostSeq else {
            return .stop(status: status, code: "UNRECOGNISED_2XX",
                         message: "the answer is not ledger-server's (\(answer.isObject ? "no last_host_seq" : "not JSON"); "
                            + "body: \(excerpt(body))): \(advice)")
        }
        if let stated = answer.status, stated != "stored", stated != "replay" {
            return .stop(status: status, code: "UNRECOGNISED_2XX",
                         message: "the answer's status is \"\(stated)\", not stored or replay: \(advice)")
        }
        if let hostID, let named = answer.hostID, named != hostID {
            return .stop(status: status, code: "HOST_MISMATCH",
                         message: "the server acknowledged a batch of host \(named), this relay forwards \(hostID): "
                            + advice)
        }
        // A 2xx that names another range would let the cursor pass records the server does not hold.
        if last != lastHostSeq || (firstHostSeq != nil && answer.batchSeq != nil && answer.batchSeq != firstHostSeq) {
            return .stop(status: status, code: "RANGE_MISMATCH",
                         message: "the server acknowledged host_seq \(answer.batchSeq.map { "\($0)…" } ?? "up to ")"
                            + "\(last), the batch is \(firstHostSeq.map { "\($0)…" } ?? "up to ")\(lastHostSeq)")
        }
        return .delivered(replay: answer.status == "replay")
    }

    /// The start of an unrecognised body, printable, for the log and the status.
    static func excerpt(_ body: [UInt8]) -> String {
        if body.isEmpty { return "empty" }
        let shown = body.prefix(80).map { $0 >= 0x20 && $0 < 0x7F ? Character(UnicodeScalar($0)) : "." }
        return "\"\(String(shown))\"\(body.count > 80 ? "… (\(body.count) bytes)" : "")"
    }
}

/// The parts of a server answer the relay reads: `{"status","host_id","batch_seq","last_host_seq"}`
/// on success, `{"error":{"code","message"}}` on failure. Anything else reads as empty.
struct ServerAnswer {
    /// The body is a JSON object (ledger-server answers nothing else).
    var isObject = false
    var status: String?
    var hostID: String?
    var batchSeq: UInt64?
    var lastHostSeq: UInt64?
    var code: String?
    var message: String?

    init(_ body: [UInt8]) {
        guard !body.isEmpty,
              let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else { return }
        isObject = true
        status = object["status"] as? String
        hostID = object["host_id"] as? String
        if let number = object["batch_seq"] as? NSNumber { batchSeq = number.uint64Value }
        if let number = object["last_host_seq"] as? NSNumber { lastHostSeq = number.uint64Value }
        if let error = object["error"] as? [String: Any] {
            code = error["code"] as? String
            message = error["message"] as? String
        }
    }
}
