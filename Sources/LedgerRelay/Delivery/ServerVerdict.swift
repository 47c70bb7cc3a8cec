import Foundation

/// What the relay does with the server's answer to one batch.
enum ServerVerdict: Equatable {
    /// 2xx: the server holds the batch (`replay`: it already did). The cursor may advance.
    case delivered(replay: Bool)
    /// Worth retrying as is: no answer, timeout, 408, 425, 429, 5xx. Retried forever.
    case retry(String)
    /// A 4xx that names this batch (400 bad body, 413, 415 …). Retried with the capped
    /// backoff, because the bytes the server saw may have been damaged on the way, and
    /// the status says `rejected` with the reason; nothing is skipped.
    case rejected(String)
    /// 401, 403, 409: the key, the enrollment or the history is wrong; retrying cannot fix
    /// it. Forwarding stops until an operator acts.
    case stop(status: Int, code: String, message: String)

    /// Classifies `outcome` for a batch that ends at `lastHostSeq`.
    static func classify(_ outcome: HTTPOutcome, lastHostSeq: UInt64) -> ServerVerdict {
        switch outcome {
        case let .failed(message):
            return .retry("no answer: \(message)")
        case let .response(status, body):
            let answer = ServerAnswer(body)
            switch status {
            case 200...299:
                // A 2xx that names another range would let the cursor pass records the server
                // does not hold: refuse to believe it.
                if let last = answer.lastHostSeq, last != lastHostSeq {
                    return .stop(status: status, code: "RANGE_MISMATCH",
                                 message: "the server acknowledged host_seq up to \(last), the batch ends at "
                                    + "\(lastHostSeq)")
                }
                return .delivered(replay: answer.status == "replay")
            case 401, 403, 409:
                return .stop(status: status, code: answer.code ?? "HTTP_\(status)",
                             message: answer.message ?? "no message")
            case 408, 425, 429, 500...599:
                return .retry("\(status) \(answer.code ?? "")\(answer.message.map { ": " + $0 } ?? "")")
            default:
                return .rejected("\(status) \(answer.code ?? "")\(answer.message.map { ": " + $0 } ?? "")")
            }
        }
    }
}

/// The parts of a server answer the relay reads: `{"status","last_host_seq"}` on success,
/// `{"error":{"code","message"}}` on failure. Anything else reads as empty.
struct ServerAnswer {
    var status: String?
    var lastHostSeq: UInt64?
    var code: String?
    var message: String?

    init(_ body: [UInt8]) {
        guard !body.isEmpty,
              let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else { return }
        status = object["status"] as? String
        if let number = object["last_host_seq"] as? NSNumber { lastHostSeq = number.uint64Value }
        if let error = object["error"] as? [String: Any] {
            code = error["code"] as? String
            message = error["message"] as? String
        }
    }
}
