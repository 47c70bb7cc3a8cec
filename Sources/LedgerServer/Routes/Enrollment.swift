import Foundation
import LedgerCore
import LedgerPosix

/// POST /v1/relay/enroll {"token","host_id","public_key","proof"}: a relay started with a one-time
/// token (`ledger-server hosts token`) registers its Ed25519 public key on first contact.
/// `proof` is the base64 signature of `RelayBatch.enrollmentMessage` (proof of possession).
/// 201 enrolled; 400 malformed; 401 bad token or proof; 409 host id taken.
struct EnrollmentResponder: Responder {
    let store: Store
    let log: Logger

    func respond(to request: HTTPRequest, context: RequestContext) throws -> HTTPResponse {
        do {
            return try enroll(request, context)
        } catch let refusal as HTTPResponseError where refusal.status != 503 {
            let hostID = (try? JSONSerialization.jsonObject(with: Data(request.body)) as? [String: Any])?["host_id"]
            log.warn("relay enrollment refused", ["host": (hostID as? String) ?? "-", "status": refusal.status,
                                                   "code": refusal.code, "detail": refusal.message])
            throw refusal
        }
    }

    private func enroll(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        guard let object = try? JSONSerialization.jsonObject(with: Data(request.body)) as? [String: Any],
              let token = object["token"] as? String, let hostID = object["host_id"] as? String,
              let publicKey = object["public_key"] as? String, let proofText = object["proof"] as? String else {
            throw APIError.badRequest("the body must be {\"token\",\"host_id\",\"public_key\",\"proof\"} (strings)")
        }
        guard RelayBatch.isValidHostID(hostID) else {
            throw APIError.badRequest("host_id must be 1-256 printable ASCII characters without spaces", field: "host_id")
        }
        guard let key = try? Ed25519PublicKey(base64: publicKey) else {
            throw APIError.badRequest("public_key must be a base64 Ed25519 public key", field: "public_key")
        }
        let message = RelayBatch.enrollmentMessage(hostID: hostID, publicKeyBase64: publicKey, token: token)
        guard let proof = Data(base64Encoded: proofText), key.isValidSignature(Array(proof), for: message) else {
            throw APIError(401, "BAD_PROOF", "proof is not a valid signature of the enrollment message")
        }
        guard try store.redeemEnrollmentToken(hash: Secrets.hash(token), hostID: hostID, publicKey: key.base64,
                                              nowMicros: context.receivedAtMicros) else {
            throw APIError(401, "BAD_TOKEN", "the enrollment token is unknown, used or expired")
        }
        return .json(201, .object([("host_id", .string(hostID)), ("status", .string("active"))]))
    }
}
