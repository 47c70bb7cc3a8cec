import Foundation
internal import CLibPQ

// The owner of one libpq connection (PGconn*) and its prepared statements.
//
// A connection is used by one thread at a time (the pool hands it out). Every
// statement is a constant SQL string prepared once per connection and run with
// binary parameters (PQexecPrepared); nothing is ever spliced into SQL text.
// Results are requested in binary format, decoded by PostgresResult.

/// A PostgreSQL failure, with the server's SQLSTATE when it sent one.
public enum PostgresError: Error, CustomStringConvertible, Sendable {
    /// The connection could not be opened or was lost (server restart, network). The pool drops
    /// the connection and reconnects with backoff; requests meanwhile get 503. Check that the
    /// database is up and `--database` points at it.
    case connectionLost(String)
    /// The server refused a statement. `sqlState` says why (23505 unique violation: the last line
    /// of defence against a duplicate record fired; 40001/40P01: retried, then reported).
    case statement(sqlState: String, message: String)
    /// The stored schema is newer than this program knows (a newer server migrated it): upgrade.
    case schemaTooNew(found: Int, known: Int)

    public var description: String {
        switch self {
        case let .connectionLost(message): "postgres connection lost: \(message)"
        case let .statement(state, message): "postgres error \(state): \(message)"
        case let .schemaTooNew(found, known): "database schema version \(found) is newer than this server's \(known)"
        }
    }

    /// SQLSTATE classes that mean "the database is not there right now", not "the statement is wrong":
    /// 08 connection exception, 57P01-57P03 admin shutdown / crash shutdown / cannot connect now.
    var isUnavailable: Bool {
        switch self {
        case .connectionLost: true
        case let .statement(state, _): state.hasPrefix("08") || state.hasPrefix("57P")
        case .schemaTooNew: false
        }
    }

    /// Serialization failure or deadlock: the whole transaction may be run again.
    var isRetryable: Bool {
        if case let .statement(state, _) = self { return state == "40001" || state == "40P01" }
        return false
    }
}

final class PostgresConnection {
    // SAFETY: owned exclusively; PQfinish in deinit. Never shared between threads at once.
    private let handle: OpaquePointer
    private var prepared: [String: (name: String, used: UInt64)] = [:]
    private var uses: UInt64 = 0
    private var names: UInt64 = 0
    /// Server-side prepared statements kept per connection. Query SQL depends on which filters
    /// are present (and how many labels): unbounded, every distinct text stayed prepared in the
    /// backend for the connection's life. The writer and the fixed queries use a few dozen.
    static let cacheCapacity = 96
    var cachedStatements: Int { prepared.count }

    /// Opens a connection from a libpq URI or keyword string (postgres://user@host:port/db).
    init(url: String, connectTimeoutSeconds: Int = 5) throws {
        // connect_timeout bounds how long a request waits while the database is down.
        // Keywords after dbname override the URL's; notices (IF NOT EXISTS skips) are not for operators.
        let keywords = ["dbname", "connect_timeout", "application_name", "options"]
        let values = [url, String(connectTimeoutSeconds), "ledger-server", "-c client_min_messages=warning"]
        // SAFETY: the C strings live until PQconnectdbParams returns (withArrayOfCStrings).
        let conn: OpaquePointer? = withArrayOfCStrings(keywords) { keys in
            withArrayOfCStrings(values) { vals in PQconnectdbParams(keys, vals, 1) }
        }
        guard let conn else { throw PostgresError.connectionLost("out of memory") }
        guard PQstatus(conn) == CONNECTION_OK else {
            let message = String(cString: PQerrorMessage(conn)).trimmingCharacters(in: .whitespacesAndNewlines)
            PQfinish(conn)
            throw PostgresError.connectionLost(message)
        }
        handle = conn
    }

    deinit { PQfinish(handle) }

    var isHealthy: Bool { PQstatus(handle) == CONNECTION_OK }

    /// Runs SQL without parameters or results (BEGIN, COMMIT, schema).
    func execute(_ sql: String) throws {
        let result = PQexec(handle, sql)
        _ = try check(result)
    }

    /// Runs a constant SQL statement (prepared on first use) with binary parameters.
    @discardableResult
    func query(_ sql: String, _ parameters: PostgresParameters = PostgresParameters()) throws -> PostgresResult {
        let name = try statementName(sql, parameters)
        let count = Int32(parameters.values.count)
        let lengths = parameters.values.map { Int32($0?.count ?? 0) }
        let formats = [Int32](repeating: 1, count: parameters.values.count)
        // SAFETY: every parameter buffer is pinned for the duration of PQexecPrepared.
        let result = withPinnedBuffers(parameters.values) { pointers in
            PQexecPrepared(handle, name, count, pointers, lengths, formats, 1)
        }
        return try check(result)
    }

    /// `COPY … FROM STDIN (FORMAT binary)` with an encoded body (PostgresCopy).
    func copy(_ sql: String, data: [UInt8]) throws {
        _ = try check(PQexec(handle, sql), expecting: PGRES_COPY_IN)
        // SAFETY: `data` is pinned while libpq copies it into its output buffer.
        let sent = data.withUnsafeBufferPointer { buffer in
            buffer.baseAddress!.withMemoryRebound(to: CChar.self, capacity: buffer.count) {
                PQputCopyData(handle, $0, Int32(buffer.count))
            }
        }
        let ended = sent == 1 ? PQputCopyEnd(handle, nil) : PQputCopyEnd(handle, "send failed")
        guard ended == 1 else { throw lostOrFailed(nil) }
        _ = try check(PQgetResult(handle))
    }

    private func statementName(_ sql: String, _ parameters: PostgresParameters) throws -> String {
        uses += 1
        if let cached = prepared[sql] {
            prepared[sql]!.used = uses
            return cached.name
        }
        // Only between transactions: a DEALLOCATE that failed inside one would abort it. The cache
        // exceeds its capacity at most by what one transaction prepares (a few statements).
        while prepared.count >= Self.cacheCapacity, PQtransactionStatus(handle) == PQTRANS_IDLE,
              let oldest = prepared.min(by: { $0.value.used < $1.value.used }) {
            try execute("DEALLOCATE \(oldest.value.name)")
            prepared.removeValue(forKey: oldest.key)
        }
        names += 1
        let name = "s\(names)"
        let result = PQprepare(handle, name, sql, Int32(parameters.types.count), parameters.types)
        _ = try check(result)
        prepared[sql] = (name, uses)
        return name
    }

    /// Owns `result`, drains any further results (libpq needs NULL before the next command),
    /// and maps failures.
    private func check(_ result: OpaquePointer?, expecting: ExecStatusType? = nil) throws -> PostgresResult {
        guard let result else { throw lostOrFailed(nil) }
        let owned = PostgresResult(result)
        let status = PQresultStatus(result)
        if let expecting {
            guard status == expecting else { throw lostOrFailed(result) }
            return owned
        }
        while let extra = PQgetResult(handle) { PQclear(extra) }
        guard status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK else { throw lostOrFailed(result) }
        return owned
    }

    private func lostOrFailed(_ result: OpaquePointer?) -> PostgresError {
        if let result, let state = PQresultErrorField(result, Int32(UInt8(ascii: "C"))) {
            let message = String(cString: PQresultErrorMessage(result)).trimmingCharacters(in: .whitespacesAndNewlines)
            return .statement(sqlState: String(cString: state), message: message)
        }
        let message = String(cString: PQerrorMessage(handle)).trimmingCharacters(in: .whitespacesAndNewlines)
        return .connectionLost(message.isEmpty ? "no result" : message)
    }
}

/// Calls `body` with a C array of C strings that live for the call.
private func withArrayOfCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    let copies = strings.map { strdup($0) }
    defer { copies.forEach { free($0) } }
    let pointers = copies.map { UnsafePointer<CChar>($0) } + [nil]
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}

/// Calls `body` with pointers to each buffer (nil for SQL NULL), all alive for the call.
private func withPinnedBuffers<R>(_ buffers: [[UInt8]?], _ body: (UnsafePointer<UnsafePointer<CChar>?>?) -> R) -> R {
    // One contiguous copy: nested closures cannot pin a variable number of arrays at once.
    let total = buffers.reduce(0) { $0 + ($1?.count ?? 0) }
    let storage = UnsafeMutableRawPointer.allocate(byteCount: max(total, 1), alignment: 8)
    defer { storage.deallocate() }
    var offset = 0
    var pointers: [UnsafePointer<CChar>?] = []
    pointers.reserveCapacity(buffers.count)
    for buffer in buffers {
        guard let buffer else { pointers.append(nil); continue }
        buffer.withUnsafeBytes { bytes in
            if let source = bytes.baseAddress { (storage + offset).copyMemory(from: source, byteCount: bytes.count) }
        }
        // SAFETY: points into `storage`, deallocated only after `body` returns; libpq only reads it.
        pointers.append(UnsafePointer((storage + offset).assumingMemoryBound(to: CChar.self)))
        offset += buffer.count
    }
    return pointers.withUnsafeBufferPointer { body($0.baseAddress) }
}
