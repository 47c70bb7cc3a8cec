#if canImport(Glibc)
import Glibc
#endif
internal import CSQLite

// The owner of one sqlite3 handle and its prepared statements.
//
// SQLite connections are not shared across threads here: the store gives the
// writer connection to its writer thread and checks reader connections out of a
// pool, one thread at a time. Every statement is prepared once (from a constant
// SQL string, never from input) and bound with parameters.

/// A SQLite failure, with the library's message.
public struct SQLiteError: Error, CustomStringConvertible, Sendable {
    public var code: Int32
    public var message: String
    public var description: String { "sqlite error \(code): \(message)" }
}

/// `SQLITE_TRANSIENT`: SQLite copies bound bytes (a C macro Swift cannot import).
nonisolated(unsafe) let sqliteTransient = unsafeBitCast(OpaquePointer(bitPattern: -1), to: sqlite3_destructor_type.self)

final class SQLiteConnection {
    // SAFETY: owned exclusively; closed in deinit after its statements are finalized.
    let handle: OpaquePointer
    private var statements: [String: (statement: SQLiteStatement, used: UInt64)] = [:]
    private var uses: UInt64 = 0
    /// Statements kept prepared. Query SQL depends on which filters are present (and how many
    /// labels), so the distinct texts are many; an unbounded cache grew by every one of them.
    /// The writer and the fixed queries use a few dozen.
    static let cacheCapacity = 96
    var cachedStatements: Int { statements.count }

    init(path: String, readOnly: Bool = false) throws {
        var db: OpaquePointer?
        let flags = (readOnly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)) | SQLITE_OPEN_NOMUTEX
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            if let db { sqlite3_close_v2(db) }
            throw SQLiteError(code: rc, message: "\(path): \(message)")
        }
        handle = db
        sqlite3_busy_timeout(db, 10_000)
    }

    deinit {
        statements.removeAll()
        sqlite3_close_v2(handle)
    }

    /// Runs SQL without results (schema, pragmas, BEGIN/COMMIT).
    func execute(_ sql: String) throws {
        var error: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &error)
        if rc != SQLITE_OK {
            let message = error.map { String(cString: $0) } ?? "error"
            sqlite3_free(error)
            throw SQLiteError(code: rc, message: message)
        }
    }

    /// The cached prepared statement for `sql`, reset and with bindings cleared.
    func statement(_ sql: String) throws -> SQLiteStatement {
        uses += 1
        if let cached = statements[sql] {
            statements[sql]!.used = uses
            cached.statement.reset()
            return cached.statement
        }
        var stmt: OpaquePointer?
        let rc = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &stmt, nil)
        guard rc == SQLITE_OK, let stmt else { throw lastError(rc) }
        let statement = SQLiteStatement(stmt, connection: self)
        if statements.count >= Self.cacheCapacity,
           let oldest = statements.min(by: { $0.value.used < $1.value.used })?.key {
            // Finalized when its last user lets go of it (deinit), so a caller still holding it is safe.
            statements.removeValue(forKey: oldest)
        }
        statements[sql] = (statement, uses)
        return statement
    }

    /// Resets every cached statement: a statement left mid-result keeps its read snapshot
    /// (and blocks WAL checkpoints), so connections are reset whenever they are handed back.
    func resetAll() {
        for cached in statements.values { sqlite3_reset(cached.statement.stmt) }
    }

    func lastError(_ rc: Int32) -> SQLiteError {
        SQLiteError(code: rc, message: String(cString: sqlite3_errmsg(handle)))
    }

    var changes: Int { Int(sqlite3_changes(handle)) }
}

/// One prepared statement. Columns and parameters are 1-based for binding, 0-based for reading.
final class SQLiteStatement {
    let stmt: OpaquePointer
    unowned let connection: SQLiteConnection

    init(_ stmt: OpaquePointer, connection: SQLiteConnection) {
        self.stmt = stmt
        self.connection = connection
    }

    deinit { sqlite3_finalize(stmt) }

    func reset() {
        sqlite3_reset(stmt)
        sqlite3_clear_bindings(stmt)
    }

    @discardableResult
    func bind(_ index: Int32, _ value: Int64) -> Self {
        sqlite3_bind_int64(stmt, index, value)
        return self
    }

    @discardableResult
    func bind(_ index: Int32, _ value: String?) -> Self {
        if let value {
            sqlite3_bind_text(stmt, index, value, -1, sqliteTransient)
        } else {
            sqlite3_bind_null(stmt, index)
        }
        return self
    }

    @discardableResult
    func bind(_ index: Int32, _ bytes: UnsafeRawBufferPointer) -> Self {
        // SAFETY: SQLITE_TRANSIENT makes SQLite copy the bytes before returning.
        sqlite3_bind_blob(stmt, index, bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 1), Int32(bytes.count), sqliteTransient)
        return self
    }

    @discardableResult
    func bind(_ index: Int32, _ bytes: [UInt8]) -> Self {
        bytes.withUnsafeBytes { bind(index, $0) }
    }

    // SAFETY (all bindStatic): SQLITE_STATIC makes SQLite keep the pointer instead of copying; the
    // caller guarantees the bytes outlive the step that uses them and rebinds or resets before they go.

    /// Binds `span` of `bytes` as UTF-8 text without copying (NULL when the span is null).
    func bindStatic(_ index: Int32, text bytes: UnsafeRawBufferPointer, _ span: ByteSpan) {
        if span.isNull {
            sqlite3_bind_null(stmt, index)
        } else {
            let base = bytes.baseAddress.map { $0 + Int(span.start) }.map { UnsafeRawPointer($0) }
                ?? UnsafeRawPointer(bitPattern: 1)!
            sqlite3_bind_text(stmt, index, base.assumingMemoryBound(to: CChar.self), span.count, nil)
        }
    }

    /// Binds `span` of `bytes` as a blob without copying.
    func bindStatic(_ index: Int32, blob bytes: UnsafeRawBufferPointer, _ span: ByteSpan) {
        let base = bytes.baseAddress.map { UnsafeRawPointer($0 + Int(span.start)) } ?? UnsafeRawPointer(bitPattern: 1)!
        sqlite3_bind_blob(stmt, index, base, max(0, span.count), nil)
    }

    /// Runs a statement that returns no rows and rewinds it, keeping its bindings for the next run.
    func runAndRewind() throws {
        let rc = sqlite3_step(stmt)
        guard rc == SQLITE_DONE else {
            let error = connection.lastError(rc)
            sqlite3_reset(stmt)
            throw error
        }
        sqlite3_reset(stmt)
    }

    /// Steps once: true when a row is available.
    func step() throws -> Bool {
        let rc = sqlite3_step(stmt)
        switch rc {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default: throw connection.lastError(rc)
        }
    }

    /// Runs a statement that returns no rows.
    func run() throws {
        while try step() {}
    }

    func int(_ column: Int32) -> Int64 { sqlite3_column_int64(stmt, column) }
    func isNull(_ column: Int32) -> Bool { sqlite3_column_type(stmt, column) == SQLITE_NULL }

    func string(_ column: Int32) -> String? {
        guard let text = sqlite3_column_text(stmt, column) else { return nil }
        return String(cString: text)
    }

    /// The column's bytes, valid until the next step or reset.
    func blob(_ column: Int32) -> UnsafeRawBufferPointer {
        let count = Int(sqlite3_column_bytes(stmt, column))
        guard count > 0, let base = sqlite3_column_blob(stmt, column) else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        // SAFETY: SQLite keeps the blob alive until the statement moves on; callers copy it out first.
        return UnsafeRawBufferPointer(start: base, count: count)
    }

    func bytes(_ column: Int32) -> [UInt8] { Array(blob(column)) }
}

func sqlite3LastInsertRowID(_ db: SQLiteConnection) -> Int64 { sqlite3_last_insert_rowid(db.handle) }
