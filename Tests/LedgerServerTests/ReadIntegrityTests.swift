import Foundation
import LedgerCore
@testable import LedgerServer
import Testing

/// A GET read by hand on its own TCP connection with a small receive window, so that the
/// server is still producing the body while the test changes the store underneath it.
final class SlowRead {
    let fd: Int32
    private(set) var raw: [UInt8] = []

    init(_ server: ServerProcess, _ path: String, key: String) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket: errno \(errno)") }
        var window: Int32 = 4096
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &window, socklen_t(MemoryLayout<Int32>.size))
        var limit = timeval(tv_sec: 60, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = server.port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { throw TestFailure("connect: errno \(errno)") }
        let head = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: \(key)\r\nConnection: close\r\n\r\n".utf8)
        let sent = head.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        guard sent == head.count else { throw TestFailure("send: errno \(errno)") }
    }

    deinit { close(fd) }

    /// Reads until `count` bytes arrived in all, or the end.
    func read(upTo count: Int) throws {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while raw.count < count {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n == 0 { return }
            if n < 0 { if errno == ECONNRESET { return }; throw TestFailure("recv: errno \(errno)") }
            raw += buffer[..<n]
        }
    }

    func readToEnd() throws { try read(upTo: Int.max) }

    /// The chunked body decoded, and whether its terminating zero-length chunk arrived.
    var body: (bytes: [UInt8], complete: Bool) {
        guard let headEnd = raw.indices.first(where: { raw[$0...].starts(with: Array("\r\n\r\n".utf8)) }) else {
            return ([], false)
        }
        var at = headEnd + 4
        var out: [UInt8] = []
        while true {
            guard let lineEnd = raw[at...].indices.first(where: { raw[$0...].starts(with: [13, 10]) }),
                  let size = Int(String(decoding: raw[at..<lineEnd], as: UTF8.self), radix: 16) else { return (out, false) }
            if size == 0 { return (out, raw[(lineEnd + 2)...].starts(with: [13, 10])) }
            let start = lineEnd + 2
            guard start + size + 2 <= raw.count else { return (out + raw[start..<min(raw.count, start + size)], false) }
            out += raw[start..<start + size]
            at = start + size + 2
        }
    }
}

@Suite("reads that must never give a wrong answer: export, verify")
struct ReadIntegrityTests {
    /// Enrolls `hostID` and stores `batches` × `size` records of about 2.7 KB each.
    static func fill(_ server: ServerProcess, hostID: String, batches: Int, size: Int, padding: Int = 2000) throws
        -> SimulatedHost {
        let host = SimulatedHost(hostID: hostID, key: try Ed25519PrivateKey())
        try server.enroll(host)
        for _ in 0..<batches {
            let first = host.chains.lastHostSeq + 1
            let batch = try RelayBatch.encode(lines: host.records(size, padding: padding), hostID: hostID,
                                              batchSeq: first, key: host.key)
            let response = try server.postBatch(batch)
            guard response.status == 200 else { throw TestFailure("batch: \(response.status) \(response.text)") }
        }
        return host
    }

    /// PostgreSQL stopped while an export is being sent: the transfer must break (no chunked
    /// terminator), never end cleanly with the tail missing.
    @Test(.enabled(if: Backend.all.contains(.postgres)))
    func exportBreaksWhenTheDatabaseGoesAwayMidway() throws {
        let cluster = try PostgresCluster()
        defer { cluster.stop() }
        let server = try ServerProcess(database: try cluster.createDatabase())
        let key = try server.createKey("r", scopes: "read:events")
        _ = try Self.fill(server, hostID: "cut", batches: 6, size: 1000)
        let export = try SlowRead(server, "/v1/export", key: key)
        try export.read(upTo: 64 << 10)
        try cluster.stopServer()
        try export.readToEnd()
        let (body, complete) = export.body
        let lines = body.filter { $0 == 0x0A }.count
        #expect(lines < 6000, "the test must stop the database before the export is complete")
        #expect(!complete, "an export cut by a failed read ended like a complete one (\(lines) lines)")
    }
}
