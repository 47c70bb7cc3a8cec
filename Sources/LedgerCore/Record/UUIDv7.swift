// Record ids: validation of the canonical UUID text form, and UUIDv7 generation
// (RFC 9562 §5.7) for events that arrive without an id.

public enum UUIDText {
    /// True for `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` in lowercase hex.
    public static func isCanonical(_ text: UnsafeRawBufferPointer) -> Bool {
        guard text.count == 36 else { return false }
        for i in 0..<36 {
            let byte = text[i]
            if i == 8 || i == 13 || i == 18 || i == 23 {
                guard byte == UInt8(ascii: "-") else { return false }
            } else {
                guard byte &- 48 < 10 || byte &- 97 < 6 else { return false }
            }
        }
        return true
    }

    public static func isCanonical(_ text: String) -> Bool {
        var text = text
        return text.withUTF8 { isCanonical(UnsafeRawBufferPointer($0)) }
    }
}

/// Generates UUIDv7 ids: 48 bits of Unix milliseconds, version 7, 12 bits of a
/// counter that keeps ids from one generator strictly increasing within a
/// millisecond (RFC 9562 §6.2 method 1), variant 10, and 62 random bits.
///
/// The random bits come from a xoshiro256** generator seeded from the system's
/// CSPRNG: ids must be unique, not secret, and a system call per event would
/// cost more than the rest of id generation. Not thread-safe: one per thread.
public struct UUIDv7Generator {
    private var state: (UInt64, UInt64, UInt64, UInt64)
    private var lastMillis: UInt64 = 0
    private var counter: UInt64 = 0

    public init() {
        var system = SystemRandomNumberGenerator()
        state = (system.next(), system.next(), system.next(), system.next())
        if state == (0, 0, 0, 0) { state.0 = 1 }
    }

    private mutating func nextRandom() -> UInt64 {
        // xoshiro256** (Blackman and Vigna, 2018).
        let result = rotl(state.1 &* 5, 7) &* 9
        let t = state.1 << 17
        state.2 ^= state.0
        state.3 ^= state.1
        state.1 ^= state.2
        state.0 ^= state.3
        state.2 ^= t
        state.3 = rotl(state.3, 45)
        return result
    }

    @inline(__always) private func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    /// Appends a new id's 36-character text for the given wall-clock time.
    public mutating func write(unixMillis: UInt64, into out: inout [UInt8]) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 36) { text in
            write(unixMillis: unixMillis, to: text.baseAddress!)
            out.append(contentsOf: UnsafeBufferPointer(text))
        }
    }

    /// Writes a new id's 36 characters at `text`.
    mutating func write(unixMillis: UInt64, to text: UnsafeMutablePointer<UInt8>) {
        var millis = unixMillis & 0xFFFF_FFFF_FFFF
        if millis > lastMillis {
            lastMillis = millis
            counter = nextRandom() & 0x3FF  // start low in the 12-bit space, leaving room to count
        } else {
            millis = lastMillis  // clock stepped back or same millisecond: stay monotonic
            counter += 1
            if counter > 0xFFF {
                lastMillis += 1
                millis = lastMillis
                counter = 0
            }
        }
        let high = millis << 16 | 0x7000 | counter
        let low = (nextRandom() & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000
        // Straight-line stores into the caller's buffer: appending per nibble through a
        // closure cost ~2,000 instructions per id.
        @inline(__always) func put(_ value: UInt64, nibbles: Int, at offset: Int) {
            var v = value
            var i = offset + nibbles - 1
            while i >= offset {
                let nibble = UInt8(truncatingIfNeeded: v & 0xF)
                text[i] = nibble < 10 ? 0x30 &+ nibble : 0x57 &+ nibble  // 0x57 + 10 == "a"
                v >>= 4
                i -= 1
            }
        }
        put(high >> 32, nibbles: 8, at: 0)
        text[8] = UInt8(ascii: "-")
        put(high >> 16 & 0xFFFF, nibbles: 4, at: 9)
        text[13] = UInt8(ascii: "-")
        put(high & 0xFFFF, nibbles: 4, at: 14)
        text[18] = UInt8(ascii: "-")
        put(low >> 48, nibbles: 4, at: 19)
        text[23] = UInt8(ascii: "-")
        put(low & 0xFFFF_FFFF_FFFF, nibbles: 12, at: 24)
    }

    public mutating func next(unixMillis: UInt64) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(36)
        write(unixMillis: unixMillis, into: &out)
        return String(decoding: out, as: UTF8.self)
    }
}
