import Foundation
internal import CMicroHTTPD

// The HTTP server: libmicrohttpd in internal-thread-pool + epoll mode.
//
// Threading: by default one thread per connection. Handlers block (an ingest waits for the
// group commit that makes it durable), and in MHD's pool mode a blocked handler stalls every
// other connection multiplexed on its thread: with a pool of 4, fifty relays were served four
// batches at a time and the writer committed tiny groups. With a thread per connection every
// waiting batch is decoded concurrently and joins the same commit. `threads > 0` selects the
// pool (epoll) for deployments with many idle connections and only quick requests.
//
// A handler that waits for another request (HTTPAnswer.later: a relay batch for its
// predecessor) must not wait on a pool thread: each connection stays on the thread that
// accepted it, so the awaited request may be queued behind the waiter on that very thread, and
// a few waiters take the whole pool. In pool mode such a connection is suspended
// (MHD_suspend_connection) while the work runs on a thread of its own, then resumed to send the
// answer (HTTPServer+Later.swift).
//
// One request is one `Exchange`: created on the first callback (headers read),
// fed upload data chunk by chunk into a buffer capped at `maxBodyBytes`, and
// answered on the last callback. A body announced larger than the cap is
// refused with 413 before any of it is read (MHD then closes the connection
// instead of draining it); a chunked body that grows past the cap stops being
// buffered and gets 413 at its end. Handlers run on MHD's pool threads.

/// Limits and threading of the HTTP server.
public struct HTTPServerOptions: Sendable {
    public var host: String = "127.0.0.1"
    public var port: UInt16 = 7600
    /// 0: one thread per connection (the default, see above); N > 0: a pool of N threads.
    public var threads: Int = 0
    public var maxConnections: Int = 1024
    /// Concurrent connections from one IP address (0: no limit). The idle timeout alone does
    /// not stop a client that sends one header line every few seconds: each such connection
    /// (and, per connection, a thread) is held as long as it likes, so one address could take
    /// every connection. Loopback is not exempt (libmicrohttpd counts every address alike).
    public var maxConnectionsPerIP: Int = 64
    /// Idle seconds after which MHD closes a connection (slow clients included).
    public var connectionTimeoutSeconds: Int = 30
    /// Per-connection memory for headers and read buffers: bounds header size.
    public var connectionMemoryBytes: Int = 128 * 1024
    public var maxBodyBytes: Int = 16 * 1024 * 1024
    public init() {}
}

/// Why the HTTP server did not start.
public enum HTTPServerError: Error, CustomStringConvertible {
    /// The listen address is not an IPv4 literal (e.g. `127.0.0.1:7600`). Fix --listen.
    case badAddress(String)
    /// libmicrohttpd refused to start, usually because the port is taken. Pick another port or stop the other process.
    case startFailed(String)

    public var description: String {
        switch self {
        case let .badAddress(text): "cannot listen on \(text): use an IPv4 address and port, e.g. 127.0.0.1:7600"
        case let .startFailed(text): "cannot start the HTTP server on \(text) (port in use?)"
        }
    }
}

final class Exchange {
    var method = ""
    var url = ""
    var headers: [String: String] = [:]
    var query: [(String, String)] = []
    var body: [UInt8] = []
    var tooLarge = false
    var answered = false
    /// Set while the connection is suspended for `.later` work; holds its response once done.
    var later: LaterResponse?
}

public final class HTTPServer: @unchecked Sendable {
    public let options: HTTPServerOptions
    let handler: (HTTPRequest) -> HTTPAnswer
    private var daemon: OpaquePointer?
    /// Connections suspended for `.later` work: MHD must not be stopped while one is.
    let suspended = SuspendedConnections()
    private let inFlightLock = NSCondition()
    private var inFlight = 0
    /// The port actually bound (useful with port 0).
    public private(set) var boundPort: UInt16 = 0
    /// Told of each request answered here without reaching the handler (413 body too large),
    /// with its method, path and headers (no body), so that it is counted and logged. Set before
    /// `start`.
    var onRefusedBeforeRoute: ((HTTPRequest, Int) -> Void)?

    public init(options: HTTPServerOptions, handler: @escaping (HTTPRequest) -> HTTPAnswer) {
        self.options = options
        self.handler = handler
    }

    public func start() throws {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = options.port.bigEndian
        guard inet_pton(AF_INET, options.host, &address.sin_addr) == 1 else {
            throw HTTPServerError.badAddress("\(options.host):\(options.port)")
        }
        let perConnection = options.threads <= 0
        let flags = MHD_USE_INTERNAL_POLLING_THREAD.rawValue | MHD_USE_ITC.rawValue | MHD_USE_ERROR_LOG.rawValue
            | (perConnection ? MHD_USE_THREAD_PER_CONNECTION.rawValue | MHD_USE_POLL.rawValue
                : MHD_USE_EPOLL.rawValue | MHD_ALLOW_SUSPEND_RESUME.rawValue)
        let me = Unmanaged.passUnretained(self).toOpaque()
        let completed = unsafeBitCast(HTTPServer.completed as MHD_RequestCompletedCallback, to: OpaquePointer.self)
        daemon = withUnsafePointer(to: &address) { addressPointer in
            // SAFETY: MHD copies the address during MHD_start_daemon_va.
            let sockaddrPointer = OpaquePointer(addressPointer)
            let pool: [CVarArg] = perConnection ? [] : [MHD_OPTION.THREAD_POOL_SIZE.rawValue, UInt32(options.threads)]
            let perIP: [CVarArg] = options.maxConnectionsPerIP > 0
                ? [MHD_OPTION.PER_IP_CONNECTION_LIMIT.rawValue, UInt32(options.maxConnectionsPerIP)] : []
            let arguments: [CVarArg] = pool + perIP + [
                MHD_OPTION.CONNECTION_LIMIT.rawValue, UInt32(options.maxConnections),
                MHD_OPTION.CONNECTION_TIMEOUT.rawValue, UInt32(options.connectionTimeoutSeconds),
                MHD_OPTION.CONNECTION_MEMORY_LIMIT.rawValue, Int(options.connectionMemoryBytes),
                MHD_OPTION.SOCK_ADDR.rawValue, sockaddrPointer,
                MHD_OPTION.NOTIFY_COMPLETED.rawValue, completed, OpaquePointer(me),
                MHD_OPTION.END.rawValue,
            ]
            return withVaList(arguments) { list in
                MHD_start_daemon_va(flags, options.port, nil, nil, HTTPServer.access, me, list)
            }
        }
        guard daemon != nil else { throw HTTPServerError.startFailed("\(options.host):\(options.port)") }
        boundPort = options.port
    }

    /// Stops accepting, lets requests in flight finish (up to `timeout` seconds), then stops.
    public func stop(timeout: Double = 10) {
        guard let daemon else { return }
        _ = MHD_quiesce_daemon(daemon)
        waitForRequests(until: Date().addingTimeInterval(timeout))
        // Stopping MHD with a suspended connection is undefined (microhttpd.h; it aborts). Each
        // is resumed when its work ends, which is bounded (the relay order wait, then one
        // commit); then its pool thread needs a moment to send the answer.
        suspended.waitUntilNone()
        waitForRequests(until: Date().addingTimeInterval(1))
        MHD_stop_daemon(daemon)
        self.daemon = nil
    }

    private func waitForRequests(until deadline: Date) {
        inFlightLock.lock()
        while inFlight > 0 && inFlightLock.wait(until: deadline) {}
        inFlightLock.unlock()
    }

    private func began() {
        inFlightLock.lock(); inFlight += 1; inFlightLock.unlock()
    }

    private func ended() {
        inFlightLock.lock(); inFlight -= 1; inFlightLock.broadcast(); inFlightLock.unlock()
    }

    // MARK: C callbacks (static: they run on MHD's threads, never on an actor)

    static let access: MHD_AccessHandlerCallback = { cls, connection, url, method, _, uploadData, uploadSize, requestCls in
        // SAFETY: cls is the server, kept alive until MHD_stop_daemon returns; requestCls is MHD's slot for us.
        let server = Unmanaged<HTTPServer>.fromOpaque(cls!).takeUnretainedValue()
        guard let connection, let requestCls, let uploadSize else { return MHD_Result.NO }
        guard let slot = requestCls.pointee else {
            let exchange = Exchange()
            exchange.method = String(cString: method!)
            exchange.url = String(cString: url!)
            _ = MHD_get_connection_values(connection, MHD_ValueKind.HEADER_KIND, HTTPServer.collectHeader,
                                          Unmanaged.passUnretained(exchange).toOpaque())
            _ = MHD_get_connection_values(connection, MHD_ValueKind.GET_ARGUMENT_KIND, HTTPServer.collectArgument,
                                          Unmanaged.passUnretained(exchange).toOpaque())
            requestCls.pointee = Unmanaged.passRetained(exchange).toOpaque()
            server.began()
            if let length = exchange.headers["content-length"].flatMap(Int.init) {
                if length > server.options.maxBodyBytes {
                    // 413 before reading a byte of the body.
                    exchange.answered = true
                    server.refused(exchange, status: 413)
                    return server.queue(APIError.payloadTooLarge.response, on: connection)
                }
                exchange.body.reserveCapacity(length)
            }
            return MHD_Result.YES
        }
        let exchange = Unmanaged<Exchange>.fromOpaque(slot).takeUnretainedValue()
        if let later = exchange.later {
            // Resumed: the `.later` work is done and left its response.
            exchange.later = nil
            return server.queue(later.take(), on: connection)
        }
        if exchange.answered { 
            uploadSize.pointee = 0
            return MHD_Result.YES
        }
        if uploadSize.pointee > 0 {
            let count = uploadSize.pointee
            if exchange.body.count + count > server.options.maxBodyBytes {
                exchange.tooLarge = true
                exchange.body = []
            } else if !exchange.tooLarge, let uploadData {
                // SAFETY: MHD guarantees `count` readable bytes at uploadData during this call.
                exchange.body.append(contentsOf: UnsafeRawBufferPointer(start: uploadData, count: count))
            }
            uploadSize.pointee = 0
            return MHD_Result.YES
        }
        exchange.answered = true
        if exchange.tooLarge {
            server.refused(exchange, status: 413)
            return server.queue(APIError.payloadTooLarge.response, on: connection)
        }
        let (path, _) = HTTPServer.split(exchange.url)
        let request = HTTPRequest(method: exchange.method, path: path, query: exchange.query,
                                  headers: exchange.headers, body: exchange.body)
        exchange.body = []
        switch server.handler(request) {
        case let .now(response): return server.queue(response, on: connection)
        case let .later(work): return server.runLater(work, for: exchange, on: connection)
        }
    }

    private func refused(_ exchange: Exchange, status: Int) {
        guard let onRefusedBeforeRoute else { return }
        let (path, _) = HTTPServer.split(exchange.url)
        onRefusedBeforeRoute(HTTPRequest(method: exchange.method, path: path, headers: exchange.headers), status)
    }

    static let completed: MHD_RequestCompletedCallback = { cls, _, requestCls, _ in
        guard let cls, let requestCls, let slot = requestCls.pointee else { return }
        Unmanaged<Exchange>.fromOpaque(slot).release()
        requestCls.pointee = nil
        Unmanaged<HTTPServer>.fromOpaque(cls).takeUnretainedValue().ended()
    }

    static let collectHeader: MHD_KeyValueIterator = { cls, _, key, value in
        let exchange = Unmanaged<Exchange>.fromOpaque(cls!).takeUnretainedValue()
        if let key {
            let name = String(cString: key).lowercased()
            let text = value.map { String(cString: $0) } ?? ""
            if let existing = exchange.headers[name] { exchange.headers[name] = existing + ", " + text }
            else { exchange.headers[name] = text }
        }
        return MHD_Result.YES
    }

    static let collectArgument: MHD_KeyValueIterator = { cls, _, key, value in
        let exchange = Unmanaged<Exchange>.fromOpaque(cls!).takeUnretainedValue()
        if let key { exchange.query.append((String(cString: key), value.map { String(cString: $0) } ?? "")) }
        return MHD_Result.YES
    }

    static func split(_ url: String) -> (String, String?) {
        guard let mark = url.firstIndex(of: "?") else { return (url, nil) }
        return (String(url[..<mark]), String(url[url.index(after: mark)...]))
    }

    func queue(_ response: HTTPResponse, on connection: OpaquePointer) -> MHD_Result {
        let mhdResponse: OpaquePointer?
        switch response.body {
        case let .bytes(bytes):
            mhdResponse = bytes.withUnsafeBytes { buffer in
                // SAFETY: MUST_COPY makes MHD copy the bytes before returning.
                MHD_create_response_from_buffer(buffer.count, UnsafeMutableRawPointer(mutating: buffer.baseAddress),
                                                .RESPMEM_MUST_COPY)
            }
        case let .stream(stream):
            let state = StreamState(stream)
            mhdResponse = MHD_create_response_from_callback(
                UInt64.max, 64 * 1024, HTTPServer.readStream, Unmanaged.passRetained(state).toOpaque(),
                HTTPServer.freeStream)
        }
        guard let mhdResponse else { return MHD_Result.NO }
        for (name, value) in response.headers { _ = MHD_add_response_header(mhdResponse, name, value) }
        let result = MHD_queue_response(connection, UInt32(response.status), mhdResponse)
        MHD_destroy_response(mhdResponse)
        return result
    }

    final class StreamState {
        let stream: ResponseStream
        var buffer: [UInt8] = []
        var offset = 0
        var ended = false
        init(_ stream: ResponseStream) { self.stream = stream }
    }

    static let readStream: MHD_ContentReaderCallback = { cls, _, buf, max in
        let state = Unmanaged<StreamState>.fromOpaque(cls!).takeUnretainedValue()
        while state.offset == state.buffer.count {
            if state.ended { return -1 }  // MHD_CONTENT_READER_END_OF_STREAM
            state.buffer.removeAll(keepingCapacity: true)
            state.offset = 0
            do {
                state.ended = try !state.stream.next(into: &state.buffer)
            } catch {
                // Ending normally would send the chunked terminator and the client would take a cut
                // body for a complete one (an export whose tail is missing still verifies).
                return -2  // MHD_CONTENT_READER_END_WITH_ERROR: the connection is closed
            }
        }
        let count = min(max, state.buffer.count - state.offset)
        state.buffer.withUnsafeBytes { bytes in
            // SAFETY: MHD gives `max` writable bytes at buf; count ≤ max.
            UnsafeMutableRawPointer(buf!).copyMemory(from: bytes.baseAddress! + state.offset, byteCount: count)
        }
        state.offset += count
        return count
    }

    static let freeStream: MHD_ContentReaderFreeCallback = { cls in
        Unmanaged<StreamState>.fromOpaque(cls!).release()
    }
}
