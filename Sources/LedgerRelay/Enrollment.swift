// --enroll-token: registers the host key with the server on first contact
// (POST /v1/relay/enroll, proof of possession signed with the key), then
// writes `<state-dir>/enrolled` so the token is never sent again, even when the
// flag or LEDGER_ENROLL_TOKEN stays in the configuration.

import Foundation
import LedgerCore
import LedgerPosix

enum Enrollment {
    /// Enrolls unless the marker exists. Network failures and 5xx are retried with backoff
    /// until `shouldStop`; a refusal (bad token, host id taken) is logged and left to the
    /// batches, whose 401 then stops forwarding with the server's reason.
    static func enrollIfNeeded(token: String?, key: Ed25519PrivateKey, hostID: String,
                               configuration: RelayConfiguration, client: HTTPClient, board: StatusBoard,
                               log: Logger, shouldStop: () -> Bool) throws {
        guard let token else { return }
        let marker = configuration.enrolledMarkerPath
        if FileSystem.exists(marker) {
            log.debug("already enrolled; the enrollment token is not used", ["marker": marker])
            return
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
                _ = answerBytes
                try FileSystem.writeAtomically(Array("\(hostID) \(publicKey)\n".utf8), to: marker, permissions: 0o640)
                log.info("enrolled the host key with the server; the token will not be used again", [
                    "host_id": hostID, "public_key": publicKey])
                return
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
                    log.error("enrollment refused; batches will be refused too until the key is enrolled", [
                        "host_id": hostID, "answer": message])
                    board.update(important: true) { $0.lastError = "enrollment refused: \(message)" }
                }
                return
            case let .failed(message):
                retryLater("no answer: \(message)", &backoff, board, log)
            }
        }
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
