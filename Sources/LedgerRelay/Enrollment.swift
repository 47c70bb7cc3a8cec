// --enroll-token: registers the host key with the server on first contact
// (POST /v1/relay/enroll, proof of possession signed with the key), then
// writes `<state-dir>/enrolled` so the token is never sent again, even when the
// flag or LEDGER_ENROLL_TOKEN stays in the configuration.

import Foundation
import LedgerCore
import LedgerPosix

enum Enrollment {
    /// What an enrollment attempt leaves to do.
    enum Outcome: Equatable {
        /// No token, the marker exists, or the server took the token: nothing.
        case settled
        /// The server did not take the token (401, 409 …), yet the key may well be enrolled: a
        /// retry after a lost 201 is refused as a spent token. The first batch the server accepts
        /// proves it; `confirm` then writes the marker and clears the refusal.
        case unconfirmed(refusal: String)
    }

    /// Enrolls unless the marker exists. Network failures and 5xx are retried with backoff
    /// until `shouldStop`; a refusal (bad token, host id taken) is logged and left to the
    /// batches: their 401 stops forwarding with the server's reason, their 2xx calls `confirm`.
    static func enrollIfNeeded(token: String?, key: Ed25519PrivateKey, hostID: String,
                               configuration: RelayConfiguration, client: HTTPClient, board: StatusBoard,
                               log: Logger, shouldStop: () -> Bool) throws -> Outcome {
        guard let token else { return .settled }
        let marker = configuration.enrolledMarkerPath
        if FileSystem.exists(marker) {
            log.debug("already enrolled; the enrollment token is not used", ["marker": marker])
            return .settled
        }
        let publicKey = key.publicKey.base64
        let proof = try key.signature(for: RelayBatch.enrollmentMessage(hostID: hostID, publicKeyBase64: publicKey,
                                                                          token: token))
        let document: [String: String] = ["token": token, "host_id": hostID, "public_key": publicKey,
                                          "proof": Base64.encode(proof)]
        let body = Array(try JSONSerialization.data(withJSONObject: document, options: [.sortedKeys]))
        var backoff = Backoff(initialMillis: configuration.backoffInitialMillis,
                              capMillis: configuration.backoffMaxMillis)
        let url = configuration.baseURL + BatchMessage.enrollPath
        while !shouldStop() {
            let outcome = body.withUnsafeBytes {
                client.post(url: url, headers: ["Content-Type: application/json"], body: $0)
            }
            switch outcome {
            case let .response(status, answerBytes, _) where (200...299).contains(status):
                // Only ledger-server's own answer settles enrollment: a proxy's catch-all 200 or
                // another service behind --server must not leave a marker that stops the token
                // being sent again. Unconfirmed, the first batch the server accepts confirms it.
                let answer = ServerAnswer(answerBytes)
                guard answer.hostID == hostID else {
                    let message = "\(status) answer to enrollment is not ledger-server's (no matching host_id): "
                        + "check --server and any proxy in between"
                    log.error("enrollment not confirmed", ["host_id": hostID, "answer": message])
                    board.update(important: true) { $0.lastError = refusalPrefix + message }
                    return .unconfirmed(refusal: message)
                }
                try writeMarker(hostID: hostID, key: key, configuration: configuration)
                log.info("enrolled the host key with the server; the token will not be used again", [
                    "host_id": hostID, "public_key": publicKey])
                return .settled
            case let .response(status, answerBytes, details) where status == 429 || status >= 500:
                let answer = ServerAnswer(answerBytes)
                retryLater("\(status) \(answer.code ?? "")", &backoff, board, log,
                           retryAfterSeconds: details.retryAfterSeconds)
            case let .response(status, answerBytes, _):
                let answer = ServerAnswer(answerBytes)
                let message = "\(status) \(answer.code ?? ""): \(answer.message ?? "no message")"
                if status == 409 {
                    log.warn("the server already has this host id enrolled; continuing with the enrolled key", [
                        "host_id": hostID, "answer": message])
                } else {
                    log.error("enrollment refused; batches will be refused too until the key is enrolled (if "
                              + "it is already, e.g. an earlier answer was lost, they go through and this clears)", [
                                "host_id": hostID, "answer": message])
                    board.update(important: true) { $0.lastError = refusalPrefix + message }
                }
                return .unconfirmed(refusal: message)
            case let .failed(message):
                retryLater("no answer: \(message)", &backoff, board, log)
            }
        }
        return .settled
    }

    static let refusalPrefix = "enrollment refused: "

    /// After an unconfirmed enrollment, on the first batch the server accepted: the key is
    /// enrolled, so the token must not be sent on every start, and the refusal shown since
    /// was a retry of an enrollment that had succeeded (or one that was not needed).
    static func confirm(hostID: String, key: Ed25519PrivateKey, configuration: RelayConfiguration,
                        board: StatusBoard, log: Logger) {
        do { try writeMarker(hostID: hostID, key: key, configuration: configuration) } catch {
            log.warn("cannot write the enrollment marker; the token will be sent again at the next start", [
                "marker": configuration.enrolledMarkerPath, "error": "\(error)"])
            return
        }
        log.info("the server accepts this host's batches: the key is enrolled, the token will not be used again "
                 + "(an earlier refusal was a retry after a lost answer, or the key was enrolled otherwise)", [
                    "host_id": hostID, "marker": configuration.enrolledMarkerPath])
        board.update(important: true) {
            if $0.lastError?.hasPrefix(refusalPrefix) == true {
                $0.lastError = nil
                $0.lastErrorAtMicros = nil
            }
        }
    }

    private static func writeMarker(hostID: String, key: Ed25519PrivateKey, configuration: RelayConfiguration) throws {
        try FileSystem.writeAtomically(Array("\(hostID) \(key.publicKey.base64)\n".utf8),
                                       to: configuration.enrolledMarkerPath, permissions: 0o640)
    }

    private static func retryLater(_ message: String, _ backoff: inout Backoff, _ board: StatusBoard, _ log: Logger,
                                   retryAfterSeconds: Int? = nil) {
        // The server's Retry-After, when it gave one, up to the backoff cap (as for batches).
        let asked = min(retryAfterSeconds ?? 0, backoff.capMillis / 1_000)
        let delay = max(backoff.nextDelayMillis(), asked * 1_000)
        board.failure(.starting, "enrollment: \(message)")
        log.warn("enrollment not answered; retrying", ["error": message, "retry_in_ms": delay])
        usleep(UInt32(min(delay, 4_000) * 1000))
    }
}
