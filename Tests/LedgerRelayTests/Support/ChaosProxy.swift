// A TCP proxy between the relay and the server that misbehaves on demand. It
// never parses HTTP: it only finds the blank line that ends a request head.

import Foundation
import Glibc

final class ChaosProxy: @unchecked Sendable {
    enum Mode: Equatable {
        /// Forward both ways untouched.
        case pass
        /// Answer every request with `503 Service Unavailable` and close.
        case serviceUnavailable
        /// Forward only the first `n` bytes of each connection's requests, then close both sides.
        case dropMidRequest(Int)
        /// Forward the request, then close instead of forwarding the server's answer
        /// (the server committed, the relay never hears it).
        case dropResponse
        /// Flip one byte of every request body (20 bytes after the head).
        case tamper
    }

    private let lock = NSLock()
    private var _mode: Mode = .pass
    private var listener: Int32 = -1
    let port: UInt16
    let upstreamPort: UInt16
    private(set) var connections = 0

    var mode: Mode {
        get { lock.lock(); defer { lock.unlock() }; return _mode }
        set { lock.lock(); _mode = newValue; lock.unlock() }
    }

    init(upstreamPort: UInt16) throws {
        self.upstreamPort = upstreamPort
        (listener, port) = try Loopback.listen()
        let thread = Thread { [self] in acceptLoop() }
        thread.start()
    }

    var url: String { "http://127.0.0.1:\(port)" }

    func close() {
        shutdown(listener, Int32(SHUT_RDWR))
        Glibc.close(listener)
    }

    private func acceptLoop() {
        while true {
            let client = accept(listener, nil, nil)
            guard client >= 0 else { return }
            lock.lock(); connections += 1; lock.unlock()
            guard let upstream = Loopback.connect(port: upstreamPort) else {
                Glibc.close(client)
                continue
            }
            let pair = Pair(client: client, upstream: upstream)
            Thread { [self] in requests(pair) }.start()
            Thread { [self] in responses(pair) }.start()
        }
    }

    /// Client → server.
    private func requests(_ pair: Pair) {
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        var forwarded = 0
        var tail: [UInt8] = []
        var tamperAt: Int? = nil
        while true {
            let n = read(pair.client, &buffer, buffer.count)
            guard n > 0 else { break }
            var chunk = Array(buffer[..<n])
            switch mode {
            case .pass, .dropResponse:
                break
            case .serviceUnavailable:
                let body = "{\"error\":{\"code\":\"UNAVAILABLE\",\"message\":\"proxy says 503\"}}"
                let answer = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                    + "Content-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n" + body
                _ = Array(answer.utf8).withUnsafeBytes { write(pair.client, $0.baseAddress, $0.count) }
                pair.close()
                return
            case let .dropMidRequest(limit):
                if forwarded + chunk.count > limit {
                    let keep = max(0, limit - forwarded)
                    _ = chunk.withUnsafeBytes { write(pair.upstream, $0.baseAddress, keep) }
                    pair.close()
                    return
                }
            case .tamper:
                // Find each head's end across chunk boundaries; flip the byte 20 bytes later.
                let combined = tail + chunk
                let offset = tail.count
                var i = 0
                while i + 3 < combined.count {
                    if combined[i] == 13, combined[i + 1] == 10, combined[i + 2] == 13, combined[i + 3] == 10 {
                        tamperAt = forwarded - offset + i + 4 + 20
                    }
                    i += 1
                }
                if let at = tamperAt, at >= forwarded, at < forwarded + chunk.count {
                    chunk[at - forwarded] ^= 0x55
                    tamperAt = nil
                }
                tail = Array(combined.suffix(3))
            }
            var sent = 0
            while sent < chunk.count {
                let w = chunk[sent...].withUnsafeBytes { write(pair.upstream, $0.baseAddress, $0.count) }
                guard w > 0 else { pair.close(); return }
                sent += w
            }
            forwarded += chunk.count
        }
        pair.close()
    }

    /// Server → client.
    private func responses(_ pair: Pair) {
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let n = read(pair.upstream, &buffer, buffer.count)
            guard n > 0 else { break }
            if mode == .dropResponse { break }
            var sent = 0
            while sent < n {
                let w = buffer[sent..<n].withUnsafeBytes { write(pair.client, $0.baseAddress, $0.count) }
                guard w > 0 else { pair.close(); return }
                sent += w
            }
        }
        pair.close()
    }

    /// Both sockets of one proxied connection; closed once, by whichever side ends first.
    private final class Pair: @unchecked Sendable {
        let client: Int32
        let upstream: Int32
        private let lock = NSLock()
        private var users = 2
        private var shut = false

        init(client: Int32, upstream: Int32) {
            self.client = client
            self.upstream = upstream
        }

        /// Shuts both down (waking the other pump); the last pump to leave closes the descriptors.
        func close() {
            lock.lock()
            if !shut {
                shut = true
                shutdown(client, Int32(SHUT_RDWR))
                shutdown(upstream, Int32(SHUT_RDWR))
            }
            users -= 1
            let last = users == 0
            lock.unlock()
            if last {
                Glibc.close(client)
                Glibc.close(upstream)
            }
        }
    }
}
