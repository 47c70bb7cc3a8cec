// The relay's HTTP/1.1 client: libcurl's easy interface, called directly.
//
// Why not URLSession: on Linux, FoundationNetworking gives no way to trust a
// custom CA file (it sets CURLOPT_CAINFO only on Android) and no separate
// connect timeout, both of which the relay needs; it also forces Data bodies
// and completion-handler hops for what is a synchronous, one-request-at-a-time
// loop here. One easy handle, reused, keeps one keep-alive connection open;
// curl reconnects by itself after a failure. See docs/RELAY.md.

internal import CCurl
import LedgerPosix

/// What came back from one request.
enum HTTPOutcome: Equatable {
    /// The server answered (any status). `body` is capped at `HTTPClient.maxResponseBytes`.
    case response(status: Int, body: [UInt8], details: HTTPResponseDetails = HTTPResponseDetails())
    /// No answer: connect failure, reset, timeout, TLS failure. `message` is curl's.
    case failed(String)
}

/// The response headers the relay acts on.
struct HTTPResponseDetails: Equatable {
    /// Where a 3xx points (the relay never follows it: it names it in the stop reason).
    var location: String?
    /// Retry-After (seconds, or an HTTP date turned into seconds from now), when the answer had one.
    var retryAfterSeconds: Int?
}

/// A blocking HTTP client for one thread. Not thread-safe: each thread owns its own.
final class HTTPClient {
    /// Answers are small JSON documents; anything longer is cut (and only used in messages).
    static let maxResponseBytes = 64 << 10

    /// Below this many bytes per second (sent and received together) for the request timeout,
    /// a request is stalled: nothing moves at all, neither the upload nor the answer.
    static let stalledBytesPerSecond = 1
    /// The whole-request bound allows the body to go at this average rate (8 kbit/s) on top of
    /// the request timeout. It is only a backstop against a peer that keeps a request alive by
    /// trickling; stalls are caught by the rule above long before.
    static let slowestBodyBytesPerSecond = 1024

    /// The bound on one whole request carrying `bodyBytes`: the request timeout plus the body at
    /// `slowestBodyBytesPerSecond`.
    ///
    /// Why not one fixed limit: CURLOPT_TIMEOUT_MS covers the upload too, so with 30 s a
    /// 1-2 MB batch on an uplink under ~500 kbit/s timed out every time and was never delivered.
    static func wholeRequestMillis(requestTimeoutMillis: Int, bodyBytes: Int) -> Int {
        let (body, overflow) = bodyBytes.multipliedReportingOverflow(by: 1_000)
        return overflow ? Int.max / 2 : requestTimeoutMillis + body / slowestBodyBytesPerSecond
    }

    private static let globalInit: Bool = curl_global_init(Int(CURL_GLOBAL_DEFAULT)) == CURLE_OK

    private let handle: UnsafeMutableRawPointer
    private let errorBuffer: UnsafeMutablePointer<CChar>
    private let sink = ResponseSink()
    private let requestTimeoutMillis: Int

    /// - Parameters:
    ///   - requestTimeoutMillis: how long a request may go without any byte moving (the server's
    ///     verification and commit happen in such a pause); see `wholeRequestMillis` for the
    ///     bound on the whole request.
    ///   - caFile: PEM bundle to trust instead of the system store (https only).
    init(connectTimeoutMillis: Int, requestTimeoutMillis: Int, caFile: String?) throws {
        guard Self.globalInit, let handle = curl_easy_init() else {
            throw RelayError.transport("curl_easy_init failed")
        }
        self.handle = handle
        self.requestTimeoutMillis = requestTimeoutMillis
        errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        // The first option libcurl refuses, named for the error.
        var refused: (option: String, code: CURLcode)?
        func set(_ option: String, _ code: CURLcode) {
            if refused == nil, code != CURLE_OK { refused = (option, code) }
        }
        set("CURLOPT_ERRORBUFFER", ccurl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, errorBuffer))
        // Threads and signals: curl must not use SIGALRM for DNS timeouts in a threaded program.
        set("CURLOPT_NOSIGNAL", ccurl_setopt_long(handle, CURLOPT_NOSIGNAL, 1))
        set("CURLOPT_HTTP_VERSION", ccurl_setopt_long(handle, CURLOPT_HTTP_VERSION, Int(CURL_HTTP_VERSION_1_1)))
        set("CURLOPT_CONNECTTIMEOUT_MS (--connect-timeout)",
            ccurl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, connectTimeoutMillis))
        // A stall, not a slow link, ends a request: curl's low-speed check (whole seconds).
        set("CURLOPT_LOW_SPEED_LIMIT", ccurl_setopt_long(handle, CURLOPT_LOW_SPEED_LIMIT, Self.stalledBytesPerSecond))
        set("CURLOPT_LOW_SPEED_TIME (--request-timeout)",
            ccurl_setopt_long(handle, CURLOPT_LOW_SPEED_TIME, (requestTimeoutMillis + 999) / 1_000))
        set("CURLOPT_TCP_KEEPALIVE", ccurl_setopt_long(handle, CURLOPT_TCP_KEEPALIVE, 1))
        set("CURLOPT_TCP_NODELAY", ccurl_setopt_long(handle, CURLOPT_TCP_NODELAY, 1))
        // Only http and https, and never follow a redirect: a batch goes where it was configured to.
        set("CURLOPT_PROTOCOLS", ccurl_setopt_long(handle, CURLOPT_PROTOCOLS, Int(CURLPROTO_HTTP | CURLPROTO_HTTPS)))
        set("CURLOPT_FOLLOWLOCATION", ccurl_setopt_long(handle, CURLOPT_FOLLOWLOCATION, 0))
        if let caFile {
            set("CURLOPT_CAINFO (--ca-file)", caFile.withCString { ccurl_setopt_pointer(handle, CURLOPT_CAINFO, $0) })
        }
        set("CURLOPT_WRITEFUNCTION", ccurl_setopt_write_function(handle, { data, size, count, context in
            // SAFETY: `context` is the ResponseSink this client owns (set below) and outlives
            // every transfer; `data` holds size*count bytes for the duration of the call.
            let sink = Unmanaged<ResponseSink>.fromOpaque(context!).takeUnretainedValue()
            let length = size * count
            if let data, sink.bytes.count < HTTPClient.maxResponseBytes {
                let room = min(length, HTTPClient.maxResponseBytes - sink.bytes.count)
                sink.bytes.append(contentsOf: UnsafeRawBufferPointer(start: data, count: room))
            }
            return length
        }))
        set("CURLOPT_WRITEDATA",
            ccurl_setopt_pointer(handle, CURLOPT_WRITEDATA, Unmanaged.passUnretained(sink).toOpaque()))
        if let refused {
            // Every stored property is set, so a throw from here runs deinit, which frees the
            // handle and the buffer: freeing them here too freed them twice, and the message
            // read the buffer after it was freed.
            let detail = String(cString: errorBuffer)
            throw RelayError.transport("libcurl refused \(refused.option): "
                                       + "\(String(cString: curl_easy_strerror(refused.code)))"
                                       + (detail.isEmpty ? "" : " (\(detail))"))
        }
    }

    deinit {
        curl_easy_cleanup(handle)
        errorBuffer.deallocate()
    }

    /// POSTs `body` to `url` with `headers` ("Name: value") and waits for the answer.
    func post(url: String, headers: [String], body: UnsafeRawBufferPointer) -> HTTPOutcome {
        sink.bytes.removeAll(keepingCapacity: true)
        errorBuffer[0] = 0
        var list: UnsafeMutablePointer<curl_slist>?
        // "Expect:" turns off curl's 100-continue wait, which would add a round trip (or a
        // 1 s stall) to every body above 1 MiB.
        for header in headers + ["Expect:"] { list = curl_slist_append(list, header) }
        defer { curl_slist_free_all(list) }
        let code: CURLcode = url.withCString { urlPointer in
            guard ccurl_setopt_pointer(handle, CURLOPT_URL, urlPointer) == CURLE_OK,
                  ccurl_setopt_pointer(handle, CURLOPT_HTTPHEADER, list) == CURLE_OK,
                  ccurl_setopt_long(handle, CURLOPT_POST, 1) == CURLE_OK,
                  ccurl_setopt_long(handle, CURLOPT_TIMEOUT_MS, Self.wholeRequestMillis(
                      requestTimeoutMillis: requestTimeoutMillis, bodyBytes: body.count)) == CURLE_OK,
                  ccurl_setopt_offset(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count)) == CURLE_OK,
                  // SAFETY: curl reads the body only during curl_easy_perform, inside this closure,
                  // while `body` is valid. A zero-length body still needs a non-null pointer.
                  ccurl_setopt_pointer(handle, CURLOPT_POSTFIELDS, body.baseAddress ?? UnsafeRawPointer(errorBuffer))
                    == CURLE_OK
            else { return CURLE_FAILED_INIT }
            return curl_easy_perform(handle)
        }
        // The header list is freed after this call: never leave curl pointing at it.
        _ = ccurl_setopt_pointer(handle, CURLOPT_HTTPHEADER, nil)
        guard code == CURLE_OK else {
            let detail = String(cString: errorBuffer)
            let summary = String(cString: curl_easy_strerror(code))
            return .failed(detail.isEmpty ? summary : "\(summary): \(detail)")
        }
        var status = 0
        _ = ccurl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        var details = HTTPResponseDetails()
        var retryAfter: curl_off_t = 0
        if ccurl_getinfo_offset(handle, CURLINFO_RETRY_AFTER, &retryAfter) == CURLE_OK, retryAfter > 0 {
            details.retryAfterSeconds = Int(retryAfter)
        }
        if (300...399).contains(status) {
            var location: UnsafeMutablePointer<CChar>?
            if ccurl_getinfo_string(handle, CURLINFO_REDIRECT_URL, &location) == CURLE_OK, let location {
                details.location = String(cString: location)
            }
        }
        return .response(status: status, body: sink.bytes, details: details)
    }
}

/// Collects a response body; reached from curl's C callback through an opaque pointer.
private final class ResponseSink {
    var bytes: [UInt8] = []
}
