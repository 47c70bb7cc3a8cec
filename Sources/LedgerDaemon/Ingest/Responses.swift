import LedgerCore

/// The response lines of docs/PROTOCOL.md, rendered straight into bytes.
enum Responses {
    /// `{"ok":true,"id":…,"agent_id":…,"sequence":N,"hash":…}\n`
    static func ok(id: String, agentID: String, sequence: UInt64, hash: SHA256Digest, into out: inout [UInt8]) {
        out.append(contentsOf: okPrefix)
        JSONEscapes.writeCanonicalString(id, into: &out)
        out.append(contentsOf: agentPrefix)
        JSONEscapes.writeCanonicalString(agentID, into: &out)
        out.append(contentsOf: sequencePrefix)
        appendDecimal(sequence, into: &out)
        out.append(contentsOf: hashPrefix)
        hash.appendHex(to: &out)
        out.append(contentsOf: ending)
    }

    /// The same line for a record just sealed into `records`: its id, agent_id and hash are
    /// copied from the record's canonical bytes (see `SealedSpans`), byte for byte what the
    /// String form above writes, without decoding and escaping them again.
    static func ok(_ sealed: SealedSpans, in records: UnsafeRawBufferPointer, into out: inout [UInt8]) {
        // Assembled on the stack and appended once: each `append(contentsOf:)` on an Array
        // costs ~60-90 instructions of uniqueness and capacity checks, and a line had ten.
        // 80 covers the fixed text (48 bytes) and a UInt64's 20 digits.
        let capacity = 80 + sealed.id.count + sealed.agentID.count + sealed.hashText.count
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: capacity) { buffer in
            // SAFETY: every write below stays inside `capacity`, counted above.
            let base = buffer.baseAddress!
            var at = 0
            @inline(__always) func put(_ bytes: UnsafeRawBufferPointer) {
                (base + at).update(from: bytes.baseAddress!.assumingMemoryBound(to: UInt8.self), count: bytes.count)
                at += bytes.count
            }
            @inline(__always) func put(_ text: StaticString) {
                (base + at).update(from: text.utf8Start, count: text.utf8CodeUnitCount)
                at += text.utf8CodeUnitCount
            }
            put("{\"ok\":true,\"id\":")
            put(UnsafeRawBufferPointer(rebasing: records[sealed.id]))
            put(",\"agent_id\":")
            put(UnsafeRawBufferPointer(rebasing: records[sealed.agentID]))
            put(",\"sequence\":")
            var digits = 0
            var v = sealed.position.sequence
            repeat {
                digits += 1
                v /= 10
            } while v > 0
            v = sealed.position.sequence
            for i in stride(from: at + digits - 1, through: at, by: -1) {
                base[i] = UInt8(truncatingIfNeeded: 48 &+ v % 10)
                v /= 10
            }
            at += digits
            put(",\"hash\":\"")
            put(UnsafeRawBufferPointer(rebasing: records[sealed.hashText]))
            put("\"}\n")
            out.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[..<at]))
        }
    }

    /// `{"ok":false,"line":N,"error":{"code":…,"field":…,"message":…}}\n`
    static func error(line: Int, _ error: RecordError, into out: inout [UInt8]) {
        out.append(contentsOf: errorPrefix)
        appendDecimal(UInt64(line), into: &out)
        out.append(contentsOf: errorMember)
        error.writeJSON(into: &out)
        out.append(contentsOf: Array("}\n".utf8))
    }

    /// UNAVAILABLE is the daemon's, not the record format's, so it is written here.
    static func unavailable(line: Int, _ message: String, into out: inout [UInt8]) {
        out.append(contentsOf: errorPrefix)
        appendDecimal(UInt64(line), into: &out)
        out.append(contentsOf: errorMember)
        out.append(contentsOf: Array("{\"code\":\"UNAVAILABLE\",\"message\":".utf8))
        JSONEscapes.writeCanonicalString(message, into: &out)
        out.append(contentsOf: Array("}}\n".utf8))
    }

    static func tooLarge(line: Int, limit: Int, into out: inout [UInt8]) {
        error(line: line, RecordError(.tooLarge, "the line is longer than the limit of \(limit) bytes; it was discarded"),
              into: &out)
    }

    private static let okPrefix = Array("{\"ok\":true,\"id\":".utf8)
    private static let agentPrefix = Array(",\"agent_id\":".utf8)
    private static let sequencePrefix = Array(",\"sequence\":".utf8)
    private static let hashPrefix = Array(",\"hash\":\"".utf8)
    private static let ending = Array("\"}\n".utf8)
    private static let errorPrefix = Array("{\"ok\":false,\"line\":".utf8)
    private static let errorMember = Array(",\"error\":".utf8)
}

