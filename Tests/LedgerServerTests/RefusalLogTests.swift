import Foundation
import LedgerCore
@testable import LedgerServer
import Testing

// ARCHITECTURE.md invariant 5: every refusal is answered, counted and logged. Incidents and
// relay refusals each leave one warning line naming host, batch_seq, code and detail; a 413
// that the HTTP layer answers before any route runs is counted in /metrics and logged too.

@Suite("incidents and relay refusals are logged and counted")
struct RefusalLogTests {
    /// What the pipe holds once its writer has exited. Not read to EOF: servers of test cases
    /// running in parallel inherit each other's pipe ends, so EOF may come only with the last one.
    static func drain(_ handle: FileHandle) -> String {
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        var ready = pollfd(fd: handle.fileDescriptor, events: Int16(POLLIN), revents: 0)
        while poll(&ready, 1, 500) > 0 {
            let count = buffer.withUnsafeMutableBytes { read(handle.fileDescriptor, $0.baseAddress, $0.count) }
            guard count > 0 else { break }
            bytes += buffer[..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    @Test(arguments: Backend.all) func everyIncidentAndRelayRefusalLeavesAWarningLine(backend: Backend) throws {
        let server = try ServerProcess(backend: backend, extraArguments: ["--max-body", "64KiB", "--max-batch-bytes", "1MiB"])
        let admin = try server.createKey("admin", scopes: "admin")
        let key = try Ed25519PrivateKey()
        let host = SimulatedHost(hostID: "audited", key: key)
        try server.enroll(host)
        #expect(try server.postBatch(try host.nextBatch(3)).status == 200)
        _ = host.records(2)  // host_seq 4 and 5 lost on the host
        #expect(try server.postBatch(try host.nextBatch(2, agents: 1)).status == 200)
        let rewriter = SimulatedHost(hostID: "audited", key: key)
        _ = rewriter.records(1, padding: 3)
        let fork = try server.postBatch(try RelayBatch.encode(lines: rewriter.records(2), hostID: "audited",
                                                              batchSeq: 2, key: key))
        #expect(fork.status == 409)
        let next = try host.nextBatch(2)
        let unsigned = try server.postBatch(next, override: [RelayBatch.signatureHeader: Data(count: 64).base64EncodedString()])
        #expect(unsigned.status == 401)
        let bomb = try server.postBatch(next, body: try Zlib.compress([UInt8](repeating: 0x20, count: 4 << 20)))
        #expect(bomb.status == 413)
        let oversized = try server.postBatch(next, body: [UInt8](repeating: 0x41, count: 70_000))
        #expect(oversized.status == 413)
        let enrollment = try server.post("/v1/relay/enroll", json: #"{"token":"nope","host_id":"newbie","public_key":"\#(key.publicKey.base64)","proof":"\#(Data(try key.signature(for: RelayBatch.enrollmentMessage(hostID: "newbie", publicKeyBase64: key.publicKey.base64, token: "nope"))).base64EncodedString())"}"#)
        #expect(enrollment.status == 401)
        #expect(try server.cli(["hosts", "revoke", "audited"]).0 == 0)
        #expect(try server.postBatch(next).status == 403)

        let metrics = try server.get("/metrics", key: admin).text
        #expect(metrics.contains(#"ledger_http_requests_total{route="POST /v1/relay/batches",status="413"} 2"#))
        #expect(metrics.contains(#"ledger_relay_batches_total{outcome="refused_413"} 2"#))

        #expect(server.stop() == 0)
        let log = Self.drain(server.stderr.fileHandleForReading)
        let warnings = log.split(separator: "\n").filter { $0.contains("level=warn") }
        func logged(_ parts: String...) -> Bool { warnings.contains { line in parts.allSatisfy { line.contains($0) } } }
        #expect(logged(#"msg="integrity incident recorded" kind=host_gap host=audited batch_seq=6"#, "code=HOST_GAP",
                       #"detail="host_seq 4…5 missing: 2 record(s) lost before this batch""#), "\(warnings)")
        #expect(logged(#"msg="integrity incident recorded" kind=sequence_gap host=audited batch_seq=6"#))
        #expect(logged(#"msg="integrity incident recorded, relay batch refused" kind=fork host=audited batch_seq=2"#,
                       "status=409 code=FORK", #"detail="host_seq 2: stored hash"#))
        #expect(logged(#"msg="relay batch refused" host=audited batch_seq=8 status=401 code=BAD_SIGNATURE"#,
                       #"detail="the signature does not verify with the host's key""#))
        #expect(logged(#"msg="relay batch refused" host=audited batch_seq=8 status=413 code=BATCH_TOO_LARGE"#))
        #expect(logged(#"msg="request refused before its route" route="POST /v1/relay/batches" host=audited"#,
                       "batch_seq=8 status=413 code=PAYLOAD_TOO_LARGE content_length=70000"))
        #expect(logged(#"msg="relay enrollment refused" host=newbie status=401 code=BAD_TOKEN"#))
        #expect(logged(#"msg="relay batch refused" host=audited batch_seq=8 status=403 code=HOST_REVOKED"#,
                       #"detail="host audited is revoked""#))
    }
}
