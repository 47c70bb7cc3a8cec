import Foundation
import LedgerCore

/// HTTP/1.1 over a TCP connection opened for one request and closed after it. URLSession
/// reuses and pools connections, so it cannot show what the server does with N requests on N
/// connections at once (libmicrohttpd binds each connection to one pool thread).
extension ServerProcess {
    func postBatchOnFreshConnection(_ batch: EncodedRelayBatch, timeout: Double = 60) throws -> Response {
        guard let fd = Self.connectLoopback(port, receiveTimeout: timeout) else {
            throw TestFailure("connect to 127.0.0.1:\(port): errno \(errno)")
        }
        defer { close(fd) }
        var head = "POST /v1/relay/batches HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
        head += "Content-Length: \(batch.compressedBody.count)\r\n"
        for (name, value) in batch.headers { head += "\(name): \(value)\r\n" }
        let request = Array((head + "\r\n").utf8) + batch.compressedBody
        var sent = 0
        while sent < request.count {
            let n = request[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw TestFailure("send: errno \(errno)") }
            sent += n
        }
        // Connection: close, so the answer ends where the stream does.
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n == 0 { break }
            guard n > 0 else { throw TestFailure("no complete answer (recv: errno \(errno))") }
            received += buffer[..<n]
        }
        return try Self.parseResponse(received)
    }

    static func parseResponse(_ bytes: [UInt8]) throws -> Response {
        let separator = Array("\r\n\r\n".utf8)
        guard let end = (0...max(0, bytes.count - separator.count)).first(where: {
            bytes.count >= separator.count && Array(bytes[$0..<$0 + separator.count]) == separator
        }) else { throw TestFailure("no header end in \(String(decoding: bytes, as: UTF8.self))") }
        let lines = String(decoding: bytes[..<end], as: UTF8.self).components(separatedBy: "\r\n")
        let statusParts = lines[0].split(separator: " ")
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else {
            throw TestFailure("bad status line \(lines[0])")
        }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return Response(status: status, body: Array(bytes[(end + separator.count)...]), headers: headers)
    }
}

extension ServerProcess {
    /// A TCP connection to 127.0.0.1:`port` whose reads give up after `receiveTimeout` seconds;
    /// nil (and nothing left open) when the connect fails.
    static func connectLoopback(_ port: UInt16, receiveTimeout: Double = 5) -> Int32? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        var limit = timeval(tv_sec: Int(receiveTimeout), tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(fd)
            return nil
        }
        return fd
    }
}
