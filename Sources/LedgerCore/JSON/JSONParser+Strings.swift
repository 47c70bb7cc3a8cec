#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// String scanning, UTF-8 validation, escapes and member-name order for JSONParser.

extension JSONParser {
    /// Parses a string starting at its opening quote and appends its node.
    mutating func parseString() throws(JSONError) {
        let openingQuote = pos
        pos += 1
        let start = pos
        var flags: UInt8 = 0
        while true {
            // Skip eight plain ASCII bytes at a time: a word is plain when none of its
            // bytes is '"', '\\', below 0x20 or at/above 0x80.
            while pos &+ 8 <= count {
                // SAFETY: pos+8 <= count; loadUnaligned tolerates any alignment.
                let word = UInt64(littleEndian: UnsafeRawPointer(base + pos).loadUnaligned(as: UInt64.self))
                let special = Self.specialBytes(word)
                if special != 0 {
                    // Jump straight to the first special byte instead of stepping to it
                    // one byte (and one more word test) at a time.
                    pos &+= special.trailingZeroBitCount &>> 3
                    break
                }
                pos &+= 8
            }
            guard pos < count else {
                throw JSONError(.syntax, at: openingQuote, "unterminated string")
            }
            let byte = base[pos]
            if byte == UInt8(ascii: "\"") { break }
            if byte == UInt8(ascii: "\\") {
                flags = JSONNode.hasEscapes
                try parseEscape()
            } else if byte < 0x20 {
                throw syntax("control character U+\(hex4(UInt16(byte))) must be escaped inside a string")
            } else if byte >= 0x80 {
                try validateUTF8Sequence()
            } else {
                pos &+= 1
            }
        }
        // The first eight bytes, big-endian and zero-padded, let member names be ordered by
        // one integer comparison in the common case (see JSONKeyOrder.compare).
        var prefix: UInt64 = 0
        let length = pos - start
        if start &+ 8 <= count {
            // SAFETY: start+8 <= count; bytes past the string's end are masked off.
            let raw = UInt64(bigEndian: UnsafeRawPointer(base + start).loadUnaligned(as: UInt64.self))
            prefix = length >= 8 ? raw : (length == 0 ? 0 : raw & ~(UInt64.max &>> UInt64(8 * length)))
        } else {
            for i in 0..<(pos - start) { prefix |= UInt64(base[start + i]) << (56 - 8 * UInt64(i)) }
        }
        appendNode(JSONNode(kind: .string, flags: flags, start: UInt32(start), end: UInt32(pos),
                            next: UInt32(nodeCount + 1), count: UInt32(truncatingIfNeeded: prefix >> 32),
                            aux: UInt32(truncatingIfNeeded: prefix)))
        pos += 1
    }

    /// A mask with the high bit set in each byte of `word` (little-endian) that is '"',
    /// '\\', below 0x20 or at/above 0x80. Bytes above the first flagged one may be
    /// flagged falsely (borrows), so only the lowest set bit is meaningful.
    @inline(__always)
    static func specialBytes(_ word: UInt64) -> UInt64 {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        @inline(__always) func hasZeroByte(_ v: UInt64) -> UInt64 { (v &- ones) & ~v & highs }
        let quote = hasZeroByte(word ^ (ones &* 0x22))
        let backslash = hasZeroByte(word ^ (ones &* 0x5C))
        let control = (word &- ones &* 0x20) & ~word & highs
        return quote | backslash | control | (word & highs)
    }

    /// Validates one escape sequence at `pos` (the backslash) and moves past it.
    mutating func parseEscape() throws(JSONError) {
        let escapeStart = pos
        guard pos + 1 < count else { throw JSONError(.syntax, at: escapeStart, "unterminated escape sequence") }
        switch base[pos + 1] {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
             UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
            pos += 2
        case UInt8(ascii: "u"):
            let unit = try hexEscape(at: pos)
            pos += 6
            if unit >= 0xD800, unit <= 0xDBFF {
                guard pos + 1 < count, base[pos] == UInt8(ascii: "\\"), base[pos + 1] == UInt8(ascii: "u"),
                      let low = try? hexEscape(at: pos), low >= 0xDC00, low <= 0xDFFF else {
                    throw JSONError(.loneSurrogate, at: escapeStart,
                                    "lone surrogate \\u\(hex4(unit)): a high surrogate must be followed by a low surrogate escape")
                }
                pos += 6
            } else if unit >= 0xDC00, unit <= 0xDFFF {
                throw JSONError(.loneSurrogate, at: escapeStart,
                                "lone surrogate \\u\(hex4(unit)): a low surrogate without a preceding high surrogate")
            }
        default:
            throw JSONError(.syntax, at: escapeStart, "invalid escape sequence \\\(describeByte(pos + 1))")
        }
    }

    /// Reads the four hex digits of `\uXXXX` at `offset` (the backslash).
    func hexEscape(at offset: Int) throws(JSONError) -> UInt16 {
        guard offset + 6 <= count else { throw JSONError(.syntax, at: offset, "truncated \\u escape") }
        var value: UInt16 = 0
        for i in 2..<6 {
            guard let digit = JSONEscapes.hexValue(base[offset + i]) else {
                throw JSONError(.syntax, at: offset, "invalid \\u escape: expected four hex digits")
            }
            value = value << 4 | UInt16(digit)
        }
        return value
    }

    /// Validates the multi-byte UTF-8 sequence whose lead byte is at `pos` (RFC 3629 §4:
    /// no overlong forms, no encoded surrogates, nothing above U+10FFFF).
    mutating func validateUTF8Sequence() throws(JSONError) {
        let lead = base[pos]
        let length: Int
        var low: UInt8 = 0x80, high: UInt8 = 0xBF  // bounds of the second byte
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; low = 0xA0
        case 0xE1...0xEC, 0xEE, 0xEF: length = 3
        case 0xED: length = 3; high = 0x9F
        case 0xF0: length = 4; low = 0x90
        case 0xF1...0xF3: length = 4
        case 0xF4: length = 4; high = 0x8F
        default: throw JSONError(.invalidUTF8, at: pos, "invalid UTF-8 lead byte 0x\(String(lead, radix: 16))")
        }
        guard pos + length <= count else { throw JSONError(.invalidUTF8, at: pos, "truncated UTF-8 sequence") }
        let second = base[pos + 1]
        guard second >= low, second <= high else {
            throw JSONError(.invalidUTF8, at: pos, lead == 0xED && second >= 0xA0
                ? "UTF-8 encoded surrogate (not valid UTF-8)" : "invalid UTF-8 sequence")
        }
        for i in 2..<length where base[pos + i] & 0xC0 != 0x80 {
            throw JSONError(.invalidUTF8, at: pos, "invalid UTF-8 continuation byte")
        }
        pos += length
    }

    // MARK: Member names

    /// Sorts the member names pending from `mark` in RFC 8785 order and rejects duplicates.
    mutating func sortAndCheckNames(from mark: Int) throws(JSONError) {
        let nodes = UnsafePointer(self.nodes)
        let bytes = UnsafeRawBufferPointer(start: base, count: count)
        // SAFETY: pending[mark..<pendingCount] are initialized; nothing else writes them here.
        var names = UnsafeMutableBufferPointer(start: pending + mark, count: pendingCount - mark)
        if names.count <= 16 {
            let outcome = Self.sortByPrefixes(names, nodes, bytes)
            if outcome == 0 { return }
            if outcome > 0 { throw duplicateName(names[outcome - 1], names[outcome], nodes, bytes) }
            // Insertion sort in place: events have a handful of members; no allocation.
            for i in 1..<names.count {
                let name = names[i]
                let node = nodes[Int(name)]
                var j = i
                while j > 0, JSONKeyOrder.compare(node, nodes[Int(names[j - 1])], bytes) < 0 {
                    names[j] = names[j - 1]
                    j -= 1
                }
                names[j] = name
            }
        } else {
            names.sort { JSONKeyOrder.compare(nodes[Int($0)], nodes[Int($1)], bytes) < 0 }
        }
        for i in 1..<names.count
        where JSONKeyOrder.compare(nodes[Int(names[i - 1])], nodes[Int(names[i])], bytes) == 0 {
            throw duplicateName(names[i - 1], names[i], nodes, bytes)
        }
    }

    func duplicateName(_ a: UInt32, _ b: UInt32, _ nodes: UnsafePointer<JSONNode>, _ bytes: UnsafeRawBufferPointer) -> JSONError {
        // Report at the later occurrence in the document.
        let node = nodes[Int(max(a, b))]
        let name = String(decoding: JSONKeyOrder.decoded(node, bytes), as: UTF8.self)
        return JSONError(.duplicateName, at: Int(node.start) - 1, "duplicate member name \"\(name)\"")
    }

    /// Insertion sort keyed by the names' 8-byte ordering prefixes, held in a stack array
    /// so the inner loop compares integers instead of reloading nodes (this halved the
    /// cost of ordering an event's members). Returns -1, leaving `names` untouched, when
    /// some name has escapes or a non-ASCII prefix; else 0 when sorted without
    /// duplicates, or `i` when `names[i - 1]` and `names[i]` are equal.
    static func sortByPrefixes(_ names: UnsafeMutableBufferPointer<UInt32>, _ nodes: UnsafePointer<JSONNode>,
                               _ bytes: UnsafeRawBufferPointer) -> Int {
        var storage: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
                      UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        return withUnsafeMutableBytes(of: &storage) { raw in
            // SAFETY: 16 keys fit in `storage`; names.count <= 16 is checked by the caller.
            let keys = raw.baseAddress!.assumingMemoryBound(to: UInt64.self)
            precondition(names.count <= 16)
            for i in 0..<names.count {
                let node = nodes[Int(names[i])]
                let key = UInt64(node.count) << 32 | UInt64(node.aux)
                if node.hasEscapes || key & 0x8080_8080_8080_8080 != 0 { return -1 }
                keys[i] = key
            }
            for i in 1..<names.count {
                let name = names[i], key = keys[i]
                var j = i
                while j > 0 {
                    let other = keys[j - 1]
                    // Equal prefixes: decide on the whole names.
                    if other < key || (other == key
                        && JSONKeyOrder.compare(nodes[Int(name)], nodes[Int(names[j - 1])], bytes) >= 0) { break }
                    names[j] = names[j - 1]
                    keys[j] = other
                    j -= 1
                }
                names[j] = name
                keys[j] = key
            }
            // Only names with equal prefixes can be equal, and sorting made them adjacent.
            for i in 1..<names.count where keys[i - 1] == keys[i]
                && JSONKeyOrder.compare(nodes[Int(names[i - 1])], nodes[Int(names[i])], bytes) == 0 {
                return i
            }
            return 0
        }
    }

    func hex4(_ value: UInt16) -> String {
        let digits = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: 4 - digits.count) + digits
    }
}

/// RFC 8785 §3.2.3: member names sort by their UTF-16 code units.
public enum JSONKeyOrder {
    /// Compares two string nodes by the UTF-16 code units of their decoded values.
    @inline(__always)
    static func compare(_ a: JSONNode, _ b: JSONNode, _ bytes: UnsafeRawBufferPointer) -> Int {
        if !a.hasEscapes, !b.hasEscapes {
            // String nodes carry their first eight raw bytes (big-endian, zero-padded; raw
            // strings never contain 0x00). For ASCII prefixes byte order is UTF-16 order.
            let prefixA = UInt64(a.count) << 32 | UInt64(a.aux), prefixB = UInt64(b.count) << 32 | UInt64(b.aux)
            if (prefixA | prefixB) & 0x8080_8080_8080_8080 == 0 {
                if prefixA != prefixB { return prefixA < prefixB ? -1 : 1 }
                if a.end - a.start <= 8, b.end - b.start <= 8 { return 0 }
            }
            return compareRaw(a, b, bytes)
        }
        return compareDecoded(a, b, bytes)
    }

    /// The slow paths of `compare`, out of line so the prefix test inlines small.
    @inline(never)
    static func compareRaw(_ a: JSONNode, _ b: JSONNode, _ bytes: UnsafeRawBufferPointer) -> Int {
        // SAFETY: string node offsets lie inside `bytes`.
        compareUTF8(UnsafeRawBufferPointer(rebasing: bytes[Int(a.start)..<Int(a.end)]),
                    UnsafeRawBufferPointer(rebasing: bytes[Int(b.start)..<Int(b.end)]))
    }

    @inline(never)
    static func compareDecoded(_ a: JSONNode, _ b: JSONNode, _ bytes: UnsafeRawBufferPointer) -> Int {
        let left = decoded(a, bytes), right = decoded(b, bytes)
        return left.withUnsafeBytes { l in right.withUnsafeBytes { r in compareUTF8(l, r) } }
    }

    static func decoded(_ node: JSONNode, _ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        if !node.hasEscapes { return Array(bytes[Int(node.start)..<Int(node.end)]) }
        var out: [UInt8] = []
        JSONEscapes.decode(bytes, from: Int(node.start), to: Int(node.end), into: &out)
        return out
    }

    /// Compares valid UTF-8 byte strings in UTF-16 code-unit order.
    ///
    /// UTF-8 byte order is code-point order, which matches UTF-16 order except that
    /// characters at or above U+10000 (UTF-8 lead 0xF0-0xF4) become surrogates
    /// 0xD800-0xDFFF in UTF-16 and so sort before U+E000-U+FFFF (lead 0xEE, 0xEF).
    /// At the first differing byte both strings are at a character boundary, because
    /// everything before it is identical.
    public static func compareUTF8(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Int {
        let shared = min(a.count, b.count)
        if shared > 0 {
            // SAFETY: both buffers hold at least `shared` bytes.
            let order = memcmp(a.baseAddress!, b.baseAddress!, shared)
            if order != 0 {
                var i = 0
                while a[i] == b[i] { i += 1 }
                let x = a[i], y = b[i]
                if x >= 0xF0, y == 0xEE || y == 0xEF { return -1 }
                if y >= 0xF0, x == 0xEE || x == 0xEF { return 1 }
                return order < 0 ? -1 : 1
            }
        }
        return a.count == b.count ? 0 : (a.count < b.count ? -1 : 1)
    }
}
