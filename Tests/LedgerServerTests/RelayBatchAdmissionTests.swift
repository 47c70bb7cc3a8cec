import Foundation
import LedgerCore
@testable import LedgerServer
import Testing

// What an unauthenticated sender can make the server spend on a relay batch: the signature
// is checked over the claimed body digest before anything is decompressed, and the
// decompressed batches held at once are bounded by --batch-memory.

@Suite("relay batches: signature before decompression, bounded batch memory")
struct RelayBatchAdmissionTests {
    static let zeroSignature = Data(count: 64).base64EncodedString()

    /// `batch`'s headers without `name`, sent with `body` (its own when nil).
    static func post(_ server: ServerProcess, _ batch: EncodedRelayBatch, without name: String,
                     body: [UInt8]? = nil) throws -> ServerProcess.Response {
        var headers: [String: String] = [:]
        for (header, value) in batch.headers where header != name { headers[header] = value }
        return try server.request("POST", "/v1/relay/batches", headers: headers, body: body ?? batch.compressedBody)
    }

    @Test(arguments: Backend.all) func aBadSignatureIsRefusedBeforeTheBodyIsDecompressed(backend: Backend) throws {
        let server = try ServerProcess(backend: backend, extraArguments: ["--max-batch-bytes", "1MiB"])
        let host = SimulatedHost(hostID: "known", key: try Ed25519PrivateKey())
        try server.enroll(host)
        let batch = try host.nextBatch(2)
        let bomb = try Zlib.compress([UInt8](repeating: 0x20, count: 64 << 20), level: 9)
        // A host id is no secret: whoever knows one must not get a byte inflated without its key.
        let unsignedBomb = try server.postBatch(batch, override: [RelayBatch.signatureHeader: Self.zeroSignature],
                                                body: bomb)
        #expect(unsignedBomb.status == 401)
        #expect(unsignedBomb.error["code"] as? String == "BAD_SIGNATURE")
        let unsignedGarbage = try server.postBatch(batch, override: [RelayBatch.signatureHeader: Self.zeroSignature],
                                                   body: Array("not zlib".utf8))
        #expect(unsignedGarbage.status == 401)
        #expect(unsignedGarbage.error["code"] as? String == "BAD_SIGNATURE")

        // Signed, but the body is not the one the signed digest names.
        let other = try host.nextBatch(2)
        let swapped = try server.postBatch(batch, body: other.compressedBody)
        #expect(swapped.status == 400)
        #expect(swapped.error["code"] as? String == "BODY_HASH_MISMATCH")
        #expect(swapped.error["message"] as? String == "X-Ledger-Body-SHA256 does not match the decompressed body")
        // Signed over a digest, a bomb still stops at --max-batch-bytes.
        let signedBomb = try server.postBatch(batch, body: bomb)
        #expect(signedBomb.status == 413)
        #expect(signedBomb.error["code"] as? String == "BATCH_TOO_LARGE")
        #expect(try server.postBatch(batch).status == 200)
    }

    @Test(arguments: Backend.all) func theBodyDigestHeaderIsRequired(backend: Backend) throws {
        let server = try ServerProcess(backend: backend)
        let host = SimulatedHost(hostID: "digestless", key: try Ed25519PrivateKey())
        try server.enroll(host)
        let batch = try host.nextBatch(3)
        let missing = try Self.post(server, batch, without: RelayBatch.bodySHA256Header)
        #expect(missing.status == 400)
        #expect(missing.error["code"] as? String == "MISSING_BODY_HASH")
        #expect(missing.error["message"] as? String
                == "X-Ledger-Body-SHA256 (hex SHA-256 of the uncompressed body) is required")
        let malformed = try server.postBatch(batch, override: [RelayBatch.bodySHA256Header: "abc"])
        #expect(malformed.status == 400)
        #expect(malformed.error["code"] as? String == "BAD_BODY_HASH")
        let uppercase = try server.postBatch(batch, override: [RelayBatch.bodySHA256Header: batch.bodySHA256.hex.uppercased()])
        #expect(uppercase.status == 200)
    }

    @Test(arguments: Backend.all) func decompressedBatchesHeldAtOnceAreBoundedByBatchMemory(backend: Backend) throws {
        let server = try ServerProcess(backend: backend, extraArguments: [
            "--max-batch-bytes", "1MiB", "--batch-memory", "1MiB", "--order-wait", "30s"])
        let waiting = SimulatedHost(hostID: "waiting", key: try Ed25519PrivateKey())
        let other = SimulatedHost(hostID: "other", key: try Ed25519PrivateKey())
        try server.enroll(waiting)
        try server.enroll(other)
        let first = try RelayBatch.encode(lines: waiting.records(2), hostID: "waiting", batchSeq: 1,
                                          predecessorHostSeq: 0, key: waiting.key)
        // ~840 KB decompressed, held while it waits for its predecessor.
        let large = try RelayBatch.encode(lines: waiting.records(600, padding: 1000), hostID: "waiting", batchSeq: 3,
                                          predecessorHostSeq: 2, key: waiting.key)
        let answer = ServerProcess.ResultBox()
        var answered = false
        // The server must outlive the waiting request even when an expectation below fails.
        defer { if !answered { answer.done.wait() } }
        Thread {
            answer.result = Result { try server.postBatch(large) }
            answer.done.signal()
        }.start()
        // ~420 KB more does not fit while the large batch waits (its answer comes only later).
        var refused: (EncodedRelayBatch, ServerProcess.Response)?
        for _ in 0..<80 where refused == nil {
            let batch = try RelayBatch.encode(lines: other.records(300, padding: 1000), hostID: "other",
                                              batchSeq: other.chains.lastHostSeq - 299, key: other.key)
            let response = try server.postBatch(batch)
            if response.status == 503 { refused = (batch, response); break }
            #expect(response.status == 200)
            usleep(100_000)
        }
        let (refusedBatch, busy) = try #require(refused, "no batch was refused while another held the batch memory")
        #expect(busy.error["code"] as? String == "BATCH_MEMORY_FULL")
        #expect(busy.headers["retry-after"] == "1")
        #expect(try server.postBatch(first).status == 200)
        answer.done.wait()
        answered = true
        let stored = try answer.result.get()
        #expect(stored.status == 200)
        #expect(stored.json["stored"] as? Int == 600)
        // Once the large batch is answered its memory is back: the refused batch goes in as sent.
        let retried = try server.postBatch(refusedBatch)
        #expect(retried.status == 200, "\(retried.text)")
        #expect(retried.json["stored"] as? Int == 300)
        #expect((retried.json["incidents"] as? [Any])?.isEmpty == true)
    }
}
