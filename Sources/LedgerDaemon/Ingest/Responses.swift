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

