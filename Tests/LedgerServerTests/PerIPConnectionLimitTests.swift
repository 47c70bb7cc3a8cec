import Foundation
import LedgerCore
@testable import LedgerServer
import Testing

@Suite("connections per IP address are limited (slow clients)")
struct PerIPConnectionLimitTests {
    /// A TCP connection to the server; nil when the connect itself fails.
    static func connectTo(_ port: UInt16) -> Int32? { ServerProcess.connectLoopback(port) }

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
