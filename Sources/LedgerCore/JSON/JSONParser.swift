#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// A strict, byte-level JSON parser that accepts exactly I-JSON (RFC 7493) as
// FORMAT.md §1 restricts it: UTF-8 only, no lone surrogates (raw or escaped),
// no duplicate member names, numbers only when reading them as a double keeps
// their value, nesting at most `JSONLimits.maxDepth`.
//
// Grammar: RFC 8259. Proven by Tests/LedgerCoreTests/JSONParserTests.swift
// (accept/reject tables) and the libFuzzer target in Tests/Fuzz.

extension JSONTape {
    /// Parses `bytes` as one JSON document, replacing the tape's content.
    /// On error the tape's content is unspecified.
    public mutating func parse(_ bytes: UnsafeRawBufferPointer, limits: JSONLimits = .default) throws(JSONError) {
        reset()
        // Copy-on-write: a buffer another tape still reads is replaced, never written.
        if !isKnownUniquelyReferenced(&nodeStore) { nodeStore = TapeBuffer(capacity: nodeStore.capacity) }
        if !isKnownUniquelyReferenced(&pendingStore) { pendingStore = TapeBuffer(capacity: pendingStore.capacity) }
        var parser = JSONParser(bytes: bytes, maxDepth: limits.maxDepth, nodeStore: nodeStore, pendingStore: pendingStore)
        // Move our arrays into the parser so that appends don't copy them (unique reference).
        swap(&parser.sortedMembers, &sortedMembers)
        swap(&parser.numbers, &numbers)
        defer {
            swap(&parser.sortedMembers, &sortedMembers)
            swap(&parser.numbers, &numbers)
            nodeStore = parser.nodeStore
            nodeCount = parser.nodeCount
            pendingStore = parser.pendingStore
        }
        try parser.parseDocument()
    }

    public mutating func parse(_ bytes: [UInt8], limits: JSONLimits = .default) throws(JSONError) {
        // SAFETY: the pointer is used only during the call.
        let result: Result<Void, JSONError> = bytes.withUnsafeBytes { buffer in
            do throws(JSONError) { try parse(buffer, limits: limits); return .success(()) } catch { return .failure(error) }
        }
        try result.get()
    }
}

struct JSONParser {
    let base: UnsafePointer<UInt8>
    let count: Int
    let maxDepth: Int
    var pos = 0
    /// The tape's node storage while parsing; `nodes` is `nodeStore.base`, cached.
    var nodeStore: TapeBuffer<JSONNode>
    var nodes: UnsafeMutablePointer<JSONNode>
    var nodeCount = 0
    var sortedMembers: [UInt32] = []
    var numbers: [Double] = []
    /// Member-name indices of the objects still open, innermost last.
    var pendingStore: TapeBuffer<UInt32>
    var pending: UnsafeMutablePointer<UInt32>
    var pendingCount = 0

    init(bytes: UnsafeRawBufferPointer, maxDepth: Int, nodeStore: TapeBuffer<JSONNode>, pendingStore: TapeBuffer<UInt32>) {
        self.nodeStore = nodeStore
        nodes = nodeStore.base
        self.pendingStore = pendingStore
        pending = pendingStore.base
        // SAFETY: an empty buffer may have a nil base; substitute a dangling pointer that
        // is never dereferenced because count == 0.
        self.base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self)
            ?? UnsafePointer(bitPattern: 1)!
        self.count = bytes.count
        self.maxDepth = maxDepth
        precondition(bytes.count < Int(UInt32.max), "documents are capped far below 4 GiB")
    }

    mutating func parseDocument() throws(JSONError) {
        skipWhitespace()
        guard pos < count else { throw JSONError(.empty, at: 0, "empty document") }
        try parseValue(depth: 0)
        skipWhitespace()
        guard pos == count else { throw syntax("unexpected \(describeByte(pos)) after the end of the JSON value") }
    }

    // MARK: Tape storage

    @inline(__always)
    mutating func appendNode(_ node: JSONNode) {
        if nodeCount == nodeStore.capacity { growNodes() }
        // SAFETY: nodeCount < capacity of the buffer `nodes` points into.
        (nodes + nodeCount).initialize(to: node)
        nodeCount &+= 1
    }

    @inline(never)
    mutating func growNodes() {
        let bigger = TapeBuffer<JSONNode>(capacity: nodeStore.capacity * 2)
        // SAFETY: both buffers hold at least nodeCount elements; they do not overlap.
        bigger.base.update(from: nodes, count: nodeCount)
        nodeStore = bigger
        nodes = bigger.base
    }

    @inline(__always)
    mutating func pushPendingMember(_ nameIndex: UInt32) {
        if pendingCount == pendingStore.capacity {
            let bigger = TapeBuffer<UInt32>(capacity: pendingStore.capacity * 2)
            // SAFETY: both buffers hold at least pendingCount elements; they do not overlap.
            bigger.base.update(from: pending, count: pendingCount)
            pendingStore = bigger
            pending = bigger.base
        }
        pending[pendingCount] = nameIndex
        pendingCount &+= 1
    }

    // MARK: Values

    mutating func parseValue(depth: Int) throws(JSONError) {
        guard pos < count else { throw syntax("unexpected end of input, expected a value") }
        switch base[pos] {
        case UInt8(ascii: "{"): try parseObject(depth: depth + 1)
        case UInt8(ascii: "["): try parseArray(depth: depth + 1)
        case UInt8(ascii: "\""): try parseString()
        case UInt8(ascii: "t"): try parseLiteral("true", .true)
        case UInt8(ascii: "f"): try parseLiteral("false", .false)
        case UInt8(ascii: "n"): try parseLiteral("null", .null)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try parseNumber()
        default: throw syntax("unexpected \(describeByte(pos)), expected a value")
        }
    }

    mutating func parseObject(depth: Int) throws(JSONError) {
        guard depth <= maxDepth else {
            throw JSONError(.tooDeep, at: pos, "nesting deeper than \(maxDepth) levels")
        }
        let index = nodeCount
        appendNode(JSONNode(kind: .object, flags: 0, start: UInt32(pos), end: 0, next: 0, count: 0, aux: 0))
        pos += 1
        let mark = pendingCount
        skipWhitespace()
        if pos < count, base[pos] == UInt8(ascii: "}") {
            pos += 1
        } else {
            while true {
                guard pos < count, base[pos] == UInt8(ascii: "\"") else {
                    throw syntax(pos < count ? "expected a member name (a string), found \(describeByte(pos))"
                                             : "unexpected end of input inside an object")
                }
                pushPendingMember(UInt32(nodeCount))
                try parseString()
                skipWhitespace()
                guard pos < count, base[pos] == UInt8(ascii: ":") else { throw syntax("expected ':' after a member name") }
                pos += 1
                skipWhitespace()
                try parseValue(depth: depth)
                skipWhitespace()
                guard pos < count else { throw syntax("unexpected end of input inside an object") }
                if base[pos] == UInt8(ascii: ",") {
                    pos += 1
                    skipWhitespace()
                    continue
                }
                guard base[pos] == UInt8(ascii: "}") else { throw syntax("expected ',' or '}' in an object, found \(describeByte(pos))") }
                pos += 1
                break
            }
        }
        let memberCount = pendingCount - mark
        if memberCount > 1 { try sortAndCheckNames(from: mark) }
        nodes[index].aux = UInt32(sortedMembers.count)
        // SAFETY: pending[mark..<pendingCount] are initialized member indices.
        sortedMembers.append(contentsOf: UnsafeBufferPointer(start: pending + mark, count: memberCount))
        pendingCount = mark
        nodes[index].count = UInt32(memberCount)
        nodes[index].end = UInt32(pos)
        nodes[index].next = UInt32(nodeCount)
    }

    mutating func parseArray(depth: Int) throws(JSONError) {
        guard depth <= maxDepth else {
            throw JSONError(.tooDeep, at: pos, "nesting deeper than \(maxDepth) levels")
        }
        let index = nodeCount
        appendNode(JSONNode(kind: .array, flags: 0, start: UInt32(pos), end: 0, next: 0, count: 0, aux: 0))
        pos += 1
        var elements: UInt32 = 0
        skipWhitespace()
        if pos < count, base[pos] == UInt8(ascii: "]") {
            pos += 1
        } else {
            while true {
                try parseValue(depth: depth)
                elements += 1
                skipWhitespace()
                guard pos < count else { throw syntax("unexpected end of input inside an array") }
                if base[pos] == UInt8(ascii: ",") {
                    pos += 1
                    skipWhitespace()
                    continue
                }
                guard base[pos] == UInt8(ascii: "]") else { throw syntax("expected ',' or ']' in an array, found \(describeByte(pos))") }
                pos += 1
                break
            }
        }
        nodes[index].count = elements
        nodes[index].end = UInt32(pos)
        nodes[index].next = UInt32(nodeCount)
    }

    mutating func parseLiteral(_ word: StaticString, _ kind: JSONKind) throws(JSONError) {
        let length = word.utf8CodeUnitCount
        guard count - pos >= length, memcmp(base + pos, word.utf8Start, length) == 0 else {
            throw syntax("invalid literal, expected '\(word)'")
        }
        let start = pos
        pos += length
        appendNode(JSONNode(kind: kind, flags: 0, start: UInt32(start), end: UInt32(pos),
                            next: UInt32(nodeCount + 1), count: 0, aux: 0))
    }

    mutating func parseNumber() throws(JSONError) {
        let start = pos
        if base[pos] == UInt8(ascii: "-") { pos += 1 }
        let integerStart = pos
        guard pos < count, isDigit(base[pos]) else { throw syntax("invalid number: expected a digit") }
        if base[pos] == UInt8(ascii: "0") {
            pos += 1
            if pos < count, isDigit(base[pos]) { throw syntax("invalid number: leading zeros are not allowed") }
        } else {
            while pos < count, isDigit(base[pos]) { pos += 1 }
        }
        let integerDigits = pos - integerStart
        var isInteger = true
        if pos < count, base[pos] == UInt8(ascii: ".") {
            isInteger = false
            pos += 1
            guard pos < count, isDigit(base[pos]) else { throw syntax("invalid number: expected a digit after '.'") }
            while pos < count, isDigit(base[pos]) { pos += 1 }
        }
        if pos < count, base[pos] | 0x20 == UInt8(ascii: "e") {
            isInteger = false
            pos += 1
            if pos < count, base[pos] == UInt8(ascii: "+") || base[pos] == UInt8(ascii: "-") { pos += 1 }
            guard pos < count, isDigit(base[pos]) else { throw syntax("invalid number: expected a digit in the exponent") }
            while pos < count, isDigit(base[pos]) { pos += 1 }
        }
        var node = JSONNode(kind: .number, flags: 0, start: UInt32(start), end: UInt32(pos),
                            next: UInt32(nodeCount + 1), count: 0, aux: 0)
        if isInteger, integerDigits <= 15 {
            node.flags = JSONNode.simpleInteger
        } else {
            // SAFETY: start..<pos lies inside the input.
            let literal = UnsafeRawBufferPointer(start: base + start, count: pos - start)
            guard let value = ECMAScriptNumber.exactDouble(literal) else {
                throw JSONError(.inexactNumber, at: start,
                                "number \(excerpt(start, pos)) cannot be represented exactly as an IEEE-754 double; send it as a string")
            }
            node.aux = UInt32(numbers.count)
            numbers.append(value)
        }
        appendNode(node)
    }

    // MARK: Whitespace and diagnostics

    @inline(__always)
    mutating func skipWhitespace() {
        while pos < count {
            switch base[pos] {
            case 0x20, 0x0A, 0x0D, 0x09: pos += 1
            default: return
            }
        }
    }

    @inline(__always) func isDigit(_ byte: UInt8) -> Bool { byte &- 0x30 < 10 }

    func syntax(_ message: String) -> JSONError { JSONError(.syntax, at: pos, message) }

    func describeByte(_ offset: Int) -> String {
        guard offset < count else { return "end of input" }
        let byte = base[offset]
        if byte >= 0x21, byte < 0x7F { return "'\(Character(Unicode.Scalar(byte)))'" }
        return "byte 0x\(String(byte, radix: 16, uppercase: false))"
    }

    /// A printable excerpt of the input for error messages, capped at 40 bytes.
    func excerpt(_ start: Int, _ end: Int) -> String {
        let shown = min(end - start, 40)
        let text = String(decoding: UnsafeRawBufferPointer(start: base + start, count: shown), as: UTF8.self)
        return end - start > shown ? text + "…" : text
    }
}
