import LedgerCore
internal import CLibPQ

// Binary parameters and results. Every value crosses the wire in PostgreSQL's binary
// format: int8 as 8 bytes big-endian, text as its UTF-8 bytes, bytea as its bytes.
// Integer columns are bigint in the schema (and aggregates are cast to int8), so
// `int(_:_:)` reads 8 bytes; 4- and 2-byte integers are accepted for safety.

/// Type OIDs from pg_type.h (stable across versions).
enum PostgresType {
    static let bytea: UInt32 = 17
    static let int8: UInt32 = 20
    static let text: UInt32 = 25
    static let uuid: UInt32 = 2950
}

/// Parameters of one statement, in order ($1, $2, …), all in binary format.
struct PostgresParameters {
    var types: [UInt32] = []
    var values: [[UInt8]?] = []

    init() {}

    mutating func add(_ value: Int64) {
        types.append(PostgresType.int8)
        values.append(withUnsafeBytes(of: value.bigEndian) { Array($0) })
    }

    mutating func add(_ value: UInt64) { add(Int64(bitPattern: value)) }

    mutating func add(_ value: String?) {
        types.append(PostgresType.text)
        values.append(value.map { Array($0.utf8) })
    }

    mutating func add(bytes: [UInt8]) {
        types.append(PostgresType.bytea)
        values.append(bytes)
    }

    mutating func add(_ digest: SHA256Digest) { add(bytes: digest.withUnsafeBytes { Array($0) }) }

    /// A `uuid` in its binary form (16 bytes).
    mutating func add(uuid: [UInt8]) {
        types.append(PostgresType.uuid)
        values.append(uuid)
    }

    /// A typed SQL NULL (an int8 column left empty).
    mutating func addNullInt() {
        types.append(PostgresType.int8)
        values.append(nil)
    }
}

/// Builds parameters inline: `.init { $0.add(hostID); $0.add(seq) }`.
extension PostgresParameters {
    init(_ build: (inout PostgresParameters) -> Void) {
        self.init()
        build(&self)
    }
}

/// The owner of one PGresult (binary format).
final class PostgresResult {
    // SAFETY: owned exclusively; PQclear in deinit. Values read out are copied.
    private let handle: OpaquePointer

    init(_ handle: OpaquePointer) { self.handle = handle }
    deinit { PQclear(handle) }

    var rows: Int { Int(PQntuples(handle)) }
    /// Rows an INSERT/UPDATE/DELETE touched.
    var affected: Int { Int(String(cString: PQcmdTuples(handle))) ?? 0 }

    func isNull(_ row: Int, _ column: Int) -> Bool { PQgetisnull(handle, Int32(row), Int32(column)) == 1 }

    private func raw(_ row: Int, _ column: Int) -> UnsafeRawBufferPointer {
        let count = Int(PQgetlength(handle, Int32(row), Int32(column)))
        // SAFETY: the value lives as long as the result; callers copy it out.
        guard let base = PQgetvalue(handle, Int32(row), Int32(column)) else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(start: base, count: count)
    }

    func int(_ row: Int, _ column: Int) -> Int64 {
        let bytes = raw(row, column)
        var value: Int64 = 0
        for byte in bytes { value = value << 8 | Int64(byte) }
        // Sign-extend the narrower integer types.
        switch bytes.count {
        case 4: return Int64(Int32(truncatingIfNeeded: value))
        case 2: return Int64(Int16(truncatingIfNeeded: value))
        default: return value
        }
    }

    func optionalInt(_ row: Int, _ column: Int) -> Int64? { isNull(row, column) ? nil : int(row, column) }

    func string(_ row: Int, _ column: Int) -> String? {
        isNull(row, column) ? nil : String(decoding: raw(row, column), as: UTF8.self)
    }

    func bytes(_ row: Int, _ column: Int) -> [UInt8] { Array(raw(row, column)) }

    func digest(_ row: Int, _ column: Int) -> SHA256Digest? { SHA256Digest(bytes: raw(row, column)) }
}

/// The body of `COPY … (FORMAT binary)`: a signature header, then per row a 16-bit field count
/// and per field a 32-bit length (-1 for NULL) and the value in binary format, then -1.
struct PostgresCopy {
    private(set) var data: [UInt8]
    private(set) var rows = 0

    init(expectedBytes: Int = 0) {
        // "PGCOPY\n\377\r\n\0" (0xFF as one byte), then 32-bit flags 0 and header extension length 0.
        data = [0x50, 0x47, 0x43, 0x4F, 0x50, 0x59, 0x0A, 0xFF, 0x0D, 0x0A, 0x00] + [0, 0, 0, 0, 0, 0, 0, 0]
        data.reserveCapacity(expectedBytes)
    }

    mutating func beginRow(fields: Int16) {
        append16(fields)
        rows += 1
    }

    mutating func add(_ value: Int64) {
        append32(8)
        withUnsafeBytes(of: value.bigEndian) { data.append(contentsOf: $0) }
    }

    mutating func add(_ value: Int32) {
        append32(4)
        append32(value)
    }

    /// A `uuid` field from its canonical text in `bytes` (16 bytes on the wire); false when the
    /// span is not a canonical lowercase UUID (nothing is appended then).
    mutating func add(uuidText span: ByteSpan, of bytes: UnsafeRawBufferPointer) -> Bool {
        guard !span.isNull,
              let uuid = PostgresUUID.binary(UnsafeRawBufferPointer(rebasing: bytes[Int(span.start)..<Int(span.start + span.count)]))
        else { return false }
        append32(16)
        data.append(contentsOf: uuid)
        return true
    }

    mutating func add(_ value: String?) {
        guard let value else { return append32(-1) }
        let utf8 = value.utf8
        append32(Int32(utf8.count))
        data.append(contentsOf: utf8)
    }

    mutating func add<Bytes: Collection>(bytes: Bytes) where Bytes.Element == UInt8 {
        append32(Int32(bytes.count))
        data.append(contentsOf: bytes)
    }

    /// A text or bytea field from a span of `bytes` (IngestRows), NULL for a null span.
    mutating func add(span: ByteSpan, of bytes: UnsafeRawBufferPointer) {
        guard !span.isNull else { return append32(-1) }
        append32(span.count)
        data.append(contentsOf: bytes[Int(span.start)..<Int(span.start + span.count)])
    }

    mutating func finish() { append16(-1) }

    private mutating func append16(_ value: Int16) { withUnsafeBytes(of: value.bigEndian) { data.append(contentsOf: $0) } }
    private mutating func append32(_ value: Int32) { withUnsafeBytes(of: value.bigEndian) { data.append(contentsOf: $0) } }
}

/// Record ids are canonical lowercase UUID text (FORMAT.md §2); the schema stores them as `uuid`.
enum PostgresUUID {
    /// The 16 bytes of a canonical lowercase UUID (`UUIDText.isCanonical`), nil for anything else,
    /// so a lookup by a non-canonical spelling finds nothing, as on SQLite.
    static func binary(_ text: UnsafeRawBufferPointer) -> [UInt8]? {
        guard UUIDText.isCanonical(text) else { return nil }
        var out = [UInt8](repeating: 0, count: 16)
        var nibble = 0
        for byte in text where byte != UInt8(ascii: "-") {
            let value = byte <= UInt8(ascii: "9") ? byte &- UInt8(ascii: "0") : byte &- UInt8(ascii: "a") &+ 10
            out[nibble >> 1] |= nibble & 1 == 0 ? value << 4 : value
            nibble += 1
        }
        return out
    }

    static func binary(_ text: String) -> [UInt8]? {
        var text = text
        return text.withUTF8 { binary(UnsafeRawBufferPointer($0)) }
    }
}
