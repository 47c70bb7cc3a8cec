// A tiny HTTP/1.1 server for tests that need an answer ledger-server would never give
// (a proxy's catch-all 200, a 413 from a body-size limit, a redirect) or a slow link.
// Unlike ChaosProxy it reads each request completely (head and Content-Length body)
// before answering, so the relay always sees the answer rather than a reset. Every
// answer closes its connection; forwarded requests go to the real server on a fresh
// connection each.

import Foundation
import Glibc

final class HTTPResponder: @unchecked Sendable {
    struct Request {
        let method: String
        let path: String
        /// Header lines as sent, without the request line.
        let headers: [String]
        let body: [UInt8]

        func header(_ name: String) -> String? {
            let prefix = name.lowercased() + ":"
            return headers.first { $0.lowercased().hasPrefix(prefix) }
                .map { String($0.dropFirst(prefix.count)).trimmingCharacters(in: .whitespaces) }
        }
    }

    enum Reply {
        /// Pass the request to the upstream server and its answer back.
        case forward
        /// Answer with this status, extra header lines and body.
        case answer(status: Int, headers: [String], body: String)
        /// Answer 200 with `body`, one byte every `intervalMillis` (a peer that keeps a request alive).
        case trickle(body: String, intervalMillis: Int)
        /// Never answer (a black hole); the connection stays open until `close()`.
        case hang
    }

    private let lock = NSLock()
    private var _handler: (Request) -> Reply = { _ in .forward }
    private var _requests = 0
    private var _largestBody = 0
    private let listener: Int32
    let port: UInt16
    let upstreamPort: UInt16
    /// Bytes per second at which request bodies are read (a slow uplink); nil: as fast as they come.
    let readRate: Int?
    private var hanging: [Int32] = []

    /// - Parameter readRate: read request bodies at this many bytes per second. On loopback the
    ///   sender's kernel takes the first ~3 MB at once (its send buffer grows to tcp_wmem's
    ///   maximum), so only a larger body is really uploaded at this rate.
    init(upstreamPort: UInt16 = 9, readRate: Int? = nil) throws {
        self.upstreamPort = upstreamPort
        self.readRate = readRate
        (listener, port) = try Loopback.listen()
        let thread = Thread { [self] in acceptLoop() }
        thread.start()
    }

    var url: String { "http://127.0.0.1:\(port)" }

    /// Decides each request's answer; may be replaced while the responder runs.
    var handler: (Request) -> Reply {
        get { lock.lock(); defer { lock.unlock() }; return _handler }
        set { lock.lock(); _handler = newValue; lock.unlock() }
    }

    /// Requests read completely so far.
    var requests: Int { lock.lock(); defer { lock.unlock() }; return _requests }
    /// The largest request body read so far.
    var largestBody: Int { lock.lock(); defer { lock.unlock() }; return _largestBody }

    func close() {
        shutdown(listener, Int32(SHUT_RDWR))
        Glibc.close(listener)
        lock.lock()
        for fd in hanging { shutdown(fd, Int32(SHUT_RDWR)) }
        lock.unlock()
    }

    private func acceptLoop() {
        while true {
            let client = accept(listener, nil, nil)
            guard client >= 0 else { return }
            Thread { [self] in
                serve(client)
                Glibc.close(client)
            }.start()
        }
    }

    private func serve(_ client: Int32) {
        guard let (head, body) = readRequest(client) else { return }
        let lines = String(decoding: head, as: UTF8.self).components(separatedBy: "\r\n").filter { !$0.isEmpty }
        let parts = (lines.first ?? "").split(separator: " ")
        let request = Request(method: parts.first.map(String.init) ?? "", path: parts.dropFirst().first.map(String.init) ?? "",
                              headers: Array(lines.dropFirst()), body: body)
        lock.lock()
        _requests += 1
        _largestBody = max(_largestBody, body.count)
        let handler = _handler
        lock.unlock()
        switch handler(request) {
        case let .answer(status, headers, text):
            let reasons = [200: "OK", 204: "No Content", 301: "Moved Permanently", 302: "Found", 404: "Not Found",
                           413: "Content Too Large", 415: "Unsupported Media Type", 429: "Too Many Requests",
                           503: "Service Unavailable"]
            var answer = "HTTP/1.1 \(status) \(reasons[status] ?? "Status")\r\n"
            for line in headers { answer += line + "\r\n" }
            // RFC 9110: a 204 has no body and no Content-Length to announce one.
            if status != 204 { answer += "Content-Length: \(text.utf8.count)\r\n" }
            answer += "Connection: close\r\n\r\n" + (status == 204 ? "" : text)
            writeAll(client, Array(answer.utf8))
        case let .trickle(text, interval):
            writeAll(client, Array("HTTP/1.1 200 OK\r\nContent-Length: \(text.utf8.count)\r\nConnection: close\r\n\r\n".utf8))
            for byte in text.utf8 {
                usleep(UInt32(interval) * 1_000)
                guard send(client, [byte], 1, Int32(MSG_NOSIGNAL)) == 1 else { return }
            }
        case .hang:
            lock.lock()
            hanging.append(client)
            lock.unlock()
            var byte: UInt8 = 0
            _ = read(client, &byte, 1)  // returns when the peer gives up or close() shuts it down
            // Before the caller closes it: close() must never shut down a reused descriptor.
            lock.lock()
            hanging.removeAll { $0 == client }
            lock.unlock()
        case .forward:
            forward(request, to: client)
        }
    }

    /// The head (through the blank line) and the Content-Length body; nil if the peer left early.
    private func readRequest(_ fd: Int32) -> ([UInt8], [UInt8])? {
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        var headEnd: Int?
        while headEnd == nil {
            let n = read(fd, &buffer, 4096)
            guard n > 0 else { return nil }
            data.append(contentsOf: buffer[..<n])
            if data.count >= 4 {
                for i in 0...(data.count - 4) where data[i] == 13 && data[i + 1] == 10 && data[i + 2] == 13
                    && data[i + 3] == 10 {
                    headEnd = i + 4
                    break
                }
            }
        }
        let head = Array(data[..<headEnd!])
        var body = Array(data[headEnd!...])
        let headText = String(decoding: head, as: UTF8.self).lowercased()
        var length = 0
        if let line = headText.components(separatedBy: "\r\n").first(where: { $0.hasPrefix("content-length:") }) {
            length = Int(line.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) ?? 0
        }
        // Slow reading: at most readRate / 20 bytes per 50 ms tick.
        let perTick = readRate.map { max(1, $0 / 20) } ?? Int.max
        var tickBudget = perTick
        while body.count < length {
            if tickBudget == 0 {
                usleep(50_000)
                tickBudget = perTick
            }
            let n = read(fd, &buffer, min(buffer.count, tickBudget, length - body.count))
            guard n > 0 else { return nil }
            body.append(contentsOf: buffer[..<n])
            if readRate != nil { tickBudget -= n }
        }
        return (head, body)
    }

    /// Sends the request to the upstream server on a new connection and relays its whole answer.
    private func forward(_ request: Request, to client: Int32) {
        guard let upstream = Loopback.connect(port: upstreamPort) else { return }
        defer { Glibc.close(upstream) }
        // "Connection: close" so the server's answer ends where its connection does.
        var head = "\(request.method) \(request.path) HTTP/1.1\r\n"
        for line in request.headers where !line.lowercased().hasPrefix("connection:") { head += line + "\r\n" }
        head += "Connection: close\r\n\r\n"
        writeAll(upstream, Array(head.utf8) + request.body)
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let n = read(upstream, &buffer, buffer.count)
            guard n > 0 else { break }
            writeAll(client, Array(buffer[..<n]))
        }
    }

    private func writeAll(_ fd: Int32, _ bytes: [UInt8]) {
        var sent = 0
        while sent < bytes.count {
            // MSG_NOSIGNAL: a peer that gave up must not kill the test process with SIGPIPE.
            let w = bytes[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard w > 0 else { return }
            sent += w
        }
    }
}
