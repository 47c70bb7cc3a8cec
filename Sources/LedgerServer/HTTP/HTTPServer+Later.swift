import Foundation
internal import CMicroHTTPD

// `.later` work (HTTPAnswer) in libmicrohttpd's pool mode: the connection is suspended, so its
// pool thread goes back to serving its other connections, the work runs on a thread of its own,
// and once it has a response the connection is resumed; MHD then calls the access handler again,
// which queues that response. In thread-per-connection mode the connection's own thread runs the
// work: waiting there holds no other connection (and MHD does not allow suspending there).
//
// The connection stays valid while suspended (MHD neither times it out nor closes it), and the
// worker touches it only to resume it, once, as the last thing it does with it.

extension HTTPServer {
    func runLater(_ work: @escaping @Sendable () throws -> HTTPResponse, for exchange: Exchange,
                  on connection: OpaquePointer) -> MHD_Result {
        guard options.threads > 0 else { return queue(HTTPServer.response(of: work), on: connection) }
        let later = LaterResponse()
        exchange.later = later
        MHD_suspend_connection(connection)
        suspended.begin()
        let handle = SuspendedConnection(connection)
        let thread = Thread { [suspended] in
            later.set(HTTPServer.response(of: work))
            MHD_resume_connection(handle.connection)
            suspended.end()
        }
        thread.name = "ledger-http-later"
        thread.start()
        return MHD_Result.YES
    }

    static func response(of work: () throws -> HTTPResponse) -> HTTPResponse {
        // The router already maps errors to answers; this is only the last resort.
        (try? work()) ?? Router.internalError
    }
}

/// A response handed from the `.later` worker to the MHD thread that resumes the connection.
final class LaterResponse: @unchecked Sendable {
    // @unchecked: `response` is only accessed under `lock`.
    private let lock = NSLock()
    private var response: HTTPResponse?

    func set(_ response: HTTPResponse) {
        lock.lock()
        self.response = response
        lock.unlock()
    }

    /// Called only after the worker resumed the connection, so the response is there.
    func take() -> HTTPResponse {
        lock.lock()
        defer { lock.unlock() }
        return response ?? Router.internalError
    }
}

/// A suspended MHD connection, carried to the worker that will resume it.
struct SuspendedConnection: @unchecked Sendable {
    // @unchecked: the pointer is used by the worker only, for the one MHD_resume_connection call
    // (documented by MHD as safe from any thread).
    let connection: OpaquePointer
    init(_ connection: OpaquePointer) { self.connection = connection }
}

/// How many connections are suspended; `stop` waits for none before stopping MHD.
final class SuspendedConnections: @unchecked Sendable {
    // @unchecked: `count` is only accessed under `condition`.
    private let condition = NSCondition()
    private var count = 0

    func begin() {
        condition.lock()
        count += 1
        condition.unlock()
    }

    func end() {
        condition.lock()
        count -= 1
        condition.broadcast()
        condition.unlock()
    }

    func waitUntilNone() {
        condition.lock()
        while count > 0 { condition.wait() }
        condition.unlock()
    }
}
