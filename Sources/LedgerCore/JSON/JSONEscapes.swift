// String escapes: decoding what a writer sent, and writing the one escaping that
// RFC 8785 §3.2.2.2 allows.

public enum JSONEscapes {
    @inline(__always)
    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    /// Appends the decoded UTF-8 of a string's raw content `start..<end`.
    /// Precondition: the parser validated the content (escapes and surrogate pairs).
    public static func decode(_ bytes: UnsafeRawBufferPointer, from start: Int, to end: Int, into out: inout [UInt8]) {
        decode(bytes, from: start, to: end, sink: &out)
    }

    static func decode<Sink: ByteSink>(_ bytes: UnsafeRawBufferPointer, from start: Int, to end: Int, sink out: inout Sink) {
        var i = start
        while i < end {
            let byte = bytes[i]
            guard byte == UInt8(ascii: "\\") else {
                out.append(byte)
                i += 1
                continue
            }
            let kind = bytes[i + 1]
            i += 2
            switch kind {
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = UInt32(readHex4(bytes, i))
                i += 4
                if scalar >= 0xD800, scalar <= 0xDBFF {
                    let low = UInt32(readHex4(bytes, i + 2))
                    i += 6
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                }
                appendUTF8(scalar, into: &out)
            default: out.append(kind)  // '"', '\\', '/'
            }
        }
    }

    @inline(__always)
    static func readHex4(_ bytes: UnsafeRawBufferPointer, _ at: Int) -> UInt16 {
        var value: UInt16 = 0
        for k in 0..<4 { value = value << 4 | UInt16(hexValue(bytes[at + k])!) }
        return value
    }

    static func appendUTF8<Sink: ByteSink>(_ scalar: UInt32, into out: inout Sink) {
        switch scalar {
        case ..<0x80:
            out.append(UInt8(scalar))
        case ..<0x800:
            out.append(UInt8(0xC0 | scalar >> 6))
            out.append(UInt8(0x80 | scalar & 0x3F))
        case ..<0x10000:
            out.append(UInt8(0xE0 | scalar >> 12))
            out.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            out.append(UInt8(0x80 | scalar & 0x3F))
        default:
            out.append(UInt8(0xF0 | scalar >> 18))
            out.append(UInt8(0x80 | scalar >> 12 & 0x3F))
            out.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            out.append(UInt8(0x80 | scalar & 0x3F))
        }
    }

    @inline(__always)
    static func hexDigit(_ nibble: UInt8) -> UInt8 { nibble < 10 ? 0x30 &+ nibble : 0x57 &+ nibble }  // 0x57 + 10 == "a"

    /// Appends `"…"` with RFC 8785 escaping of valid UTF-8 text: `\"`, `\\`, the five
    /// short control escapes, other code points below U+0020 as `\u00xx` (lowercase),
    /// everything else (U+007F, U+2028 included) literally.
    public static func writeCanonicalString(_ text: UnsafeRawBufferPointer, into out: inout [UInt8]) {
        writeCanonicalString(text, sink: &out)
    }

    static func writeCanonicalString<Sink: ByteSink>(_ text: UnsafeRawBufferPointer, sink out: inout Sink) {
        out.append(UInt8(ascii: "\""))
        var runStart = 0
        for i in 0..<text.count {
            let byte = text[i]
            guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
            if runStart < i { out.appendBytes(UnsafeRawBufferPointer(rebasing: text[runStart..<i])) }
            runStart = i + 1
            out.append(UInt8(ascii: "\\"))
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"): out.append(byte)
            case 0x08: out.append(UInt8(ascii: "b"))
            case 0x09: out.append(UInt8(ascii: "t"))
            case 0x0A: out.append(UInt8(ascii: "n"))
            case 0x0C: out.append(UInt8(ascii: "f"))
            case 0x0D: out.append(UInt8(ascii: "r"))
            default:
                out.appendBytes(UnsafeRawBufferPointer(start: ("u00" as StaticString).utf8Start, count: 3))
                out.append(hexDigit(byte >> 4))
                out.append(hexDigit(byte & 0xF))
            }
        }
        if runStart < text.count { out.appendBytes(UnsafeRawBufferPointer(rebasing: text[runStart...])) }
        out.append(UInt8(ascii: "\""))
    }

    public static func writeCanonicalString(_ text: [UInt8], into out: inout [UInt8]) {
        text.withUnsafeBytes { writeCanonicalString($0, into: &out) }
    }

    public static func writeCanonicalString(_ text: String, into out: inout [UInt8]) {
        var text = text
        text.withUTF8 { writeCanonicalString(UnsafeRawBufferPointer($0), into: &out) }
    }
}

/// Where the escape helpers write: `[UInt8]` for the public API, `ByteWriter` on the
/// hot path. Generic (and specialized) so that both share one implementation.
protocol ByteSink {
    mutating func append(_ byte: UInt8)
    mutating func appendBytes(_ bytes: UnsafeRawBufferPointer)
}

extension Array: ByteSink where Element == UInt8 {
    @inline(__always) mutating func appendBytes(_ bytes: UnsafeRawBufferPointer) { append(contentsOf: bytes) }
}

extension ByteWriter: ByteSink {
    @inline(__always) mutating func appendBytes(_ bytes: UnsafeRawBufferPointer) { append(bytes) }
}
