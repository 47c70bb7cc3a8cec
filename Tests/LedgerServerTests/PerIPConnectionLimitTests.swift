import Foundation
import LedgerCore
@testable import LedgerServer
import Testing

@Suite("connections per IP address are limited (slow clients)")
struct PerIPConnectionLimitTests {
    /// A TCP connection to the server; nil when the connect itself fails.
    static func connectTo(_ port: UInt16) -> Int32? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var limit = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if connected != 0 { close(fd); return nil }
        return fd
    }

    /// GET /healthz on a new connection: the status, or nil when the server closed it unanswered.
    static func health(_ port: UInt16) -> Int? {
        guard let fd = connectTo(port) else { return nil }
        defer { close(fd) }
        let request = Array("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8)
        _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard n > 12 else { return nil }
        return Int(String(decoding: buffer[9..<12], as: UTF8.self))
    }

    @Test func slowClientsFromOneAddressCannotTakeMoreThanTheirShare() throws {
        let server = try ServerProcess(extraArguments: ["--max-connections-per-ip", "4", "--connection-timeout", "60s"])
        // Slowloris: connections that never finish their headers.
        var slow: [Int32] = []
        defer { slow.forEach { close($0) } }
        for _ in 0..<4 {
            let fd = try #require(Self.connectTo(server.port))
            let partial = Array("GET /healthz HTTP/1.1\r\nX-Slow: 1\r\n".utf8)
            _ = partial.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            slow.append(fd)
        }
        usleep(300_000)
        #expect(Self.health(server.port) == nil, "a fifth connection from the same address was served")
        // Two freed (the harness's own HTTP client may keep one idle connection of the four).
        close(slow.removeLast())
        close(slow.removeLast())
        usleep(500_000)
        #expect(Self.health(server.port) == 200)
    }
}
