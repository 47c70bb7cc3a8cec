// Numbers in Ledger's canonical JSON (docs/FORMAT.md §1). `write` is RFC 8785 §3.2.2.3,
// i.e. ECMA-262 Number::toString(x) in radix 10 (§6.1.6.1.20): the shortest digits that
// read back as the same double (the closest ones if there is a choice), in plain or exponent
// layout by the decimal point's position. `exactDouble` is the I-JSON rule of §1: a number
// is accepted only if reading it as a double keeps its decimal value.
// The shortest digits come from Schubfach (R. Giulietti, "The Schubfach way to render
// doubles", 2020; Java's Double.toString since JDK 19), written here from the paper.
// Proven by Tests/LedgerCoreTests/ECMAScriptNumberTests.swift: `write` against node's
// String(x) on Tests/LedgerCoreTests/Vectors/numbers.txt and against Swift's shortest
// `description`; `exactDouble` by a table of literals and exactDouble(write(d)) == d.

public enum ECMAScriptNumber {
    /// Appends the RFC 8785 / ECMAScript `Number.prototype.toString` form of a finite double
    /// (shortest round-trip digits; -0 → "0"; exponent form when exponent >= 21 or <= -7:
    /// 1e+21, 1.5e-7, 123456789012345680000, 0.000001, etc.). Precondition: value.isFinite.
    public static func write(_ value: Double, into out: inout [UInt8]) {
        precondition(value.isFinite, "ECMAScriptNumber.write: \(value) is not finite")
        let negative = value.sign == .minus
        let magnitude = value.magnitude
        // Integers below 2^53 are their own shortest digits and print in full (n <= 16 < 21).
        // (Truncating through Int64 is one instruction; `rounded(.towardZero)` is a libm call.)
        if magnitude < 0x1p53, case let integer = UInt64(Int64(magnitude)), Double(integer) == magnitude {
            if integer == 0 { return out.append(UInt8(ascii: "0")) }  // -0 too: ECMAScript prints "0"
            let count = decimalLength(integer)
            return emit(into: &out) { p in
                // SAFETY: at most 17 bytes, inside emit's buffer.
                var p = p
                if negative { p.pointee = UInt8(ascii: "-"); p += 1 }
                writeDigits(integer, count: count, to: p)
                return p + count
            }
        }
        var (digits, exponent) = shortest(magnitude)
        // ECMAScript's k is the least digit count: drop trailing zeros (at most 16), in a few
        // large steps because short decimals such as 0.25 come out of `shortest` as 25000000000000000.
        while digits % 100_000_000 == 0 { digits /= 100_000_000; exponent += 8 }
        if digits % 10_000 == 0 { digits /= 10_000; exponent += 4 }
        if digits % 100 == 0 { digits /= 100; exponent += 2 }
        if digits % 10 == 0 { digits /= 10; exponent += 1 }
        let k = decimalLength(digits)
        let n = k + exponent  // ECMAScript's n: the decimal point sits after n digits
        emit(into: &out) { p in
            // SAFETY: each layout writes at most 25 bytes from p, inside emit's 32-byte buffer.
            var p = p
            if negative { p.pointee = UInt8(ascii: "-"); p += 1 }
            if k <= n && n <= 21 {  // 123456789012345680000
                writeDigits(digits, count: k, to: p)
                for i in k..<n { p[i] = UInt8(ascii: "0") }
                return p + n
            }
            if 0 < n && n <= 21 {  // 1.5
                writeDigits(digits, count: k, to: p + 1)
                for i in 0..<n { p[i] = p[i + 1] }
                p[n] = UInt8(ascii: ".")
                return p + k + 1
            }
            if -6 < n && n <= 0 {  // 0.000001
                p[0] = UInt8(ascii: "0")
                p[1] = UInt8(ascii: ".")
                for i in 0..<(-n) { p[2 + i] = UInt8(ascii: "0") }
                writeDigits(digits, count: k, to: p + 2 - n)
                return p + 2 - n + k
            }
            writeDigits(digits, count: k, to: p + 1)  // 1e+21, 1.5e-7
            p[0] = p[1]
            if k > 1 { p[1] = UInt8(ascii: ".") }
            p += k > 1 ? k + 1 : 1
            p[0] = UInt8(ascii: "e")
            p[1] = n - 1 < 0 ? UInt8(ascii: "-") : UInt8(ascii: "+")
            let e = UInt64((n - 1).magnitude)  // 1...324
            let count = decimalLength(e)
            writeDigits(e, count: count, to: p + 2)
            return p + 2 + count
        }
    }

    /// `literal` is a JSON number token already checked for JSON grammar (-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?).
    /// Returns the double it denotes if and only if reading it as an IEEE-754 double does not
    /// change its decimal value, i.e. the shortest round-trip decimal of the double is numerically
    /// equal to the literal. Returns nil when the value would change: too many significant digits
    /// (12345678901234567890), overflow to infinity (1e400), underflow (1e-400; while "0", "0.0",
    /// "-0", "0e5" are fine and give 0 / -0), or rounding (9007199254740993 reads as ...992).
    /// Anything outside the grammar also gives nil.
    public static func exactDouble(_ literal: UnsafeRawBufferPointer) -> Double? {
        // SAFETY: every literal[i] below is guarded by i < count.
        let count = literal.count
        guard count > 0 else { return nil }
        let negative = literal[0] == UInt8(ascii: "-")
        var i = negative ? 1 : 0
        // Plain integers of at most 15 digits are below 2^53, so exact and their own shortest form.
        if count - i <= 15 {
            var integer: UInt64 = 0
            var j = i
            while j < count {
                let d = literal[j] &- UInt8(ascii: "0")
                if d > 9 { break }
                integer = integer &* 10 &+ UInt64(d)
                j += 1
            }
            if j == count && j > i { return negative ? -Double(integer) : Double(integer) }
        }
        // Collect the significant digits (first to last nonzero digit) in one pass. More than 17
        // of them can never be a shortest round-trip decimal, which bounds the work on long input.
        var significand: UInt64 = 0
        var significantDigits = 0
        var pendingZeros = 0  // zeros after the last nonzero digit, so far
        var fractionDigits = 0
        var inFraction = false
        var sawDigit = false
        while i < count {
            let byte = literal[i]
            if byte == UInt8(ascii: ".") {
                guard sawDigit && !inFraction else { return nil }
                inFraction = true
                i += 1
                continue
            }
            let d = byte &- UInt8(ascii: "0")
            if d > 9 { break }
            sawDigit = true
            if inFraction { fractionDigits += 1 }
            if d == 0 {
                if significantDigits > 0 { pendingZeros += 1 }
            } else {
                if significantDigits + pendingZeros >= 17 { return nil }
                for _ in 0..<pendingZeros { significand &*= 10 }
                significand = significand &* 10 &+ UInt64(d)
                significantDigits += pendingZeros + 1
                pendingZeros = 0
            }
            i += 1
        }
        guard sawDigit else { return nil }
        var exponent = 0
        if i < count {
            guard literal[i] | 0x20 == UInt8(ascii: "e") else { return nil }
            i += 1
            let exponentNegative = i < count && literal[i] == UInt8(ascii: "-")
            if i < count && (exponentNegative || literal[i] == UInt8(ascii: "+")) { i += 1 }
            guard i < count else { return nil }
            while i < count {
                let d = literal[i] &- UInt8(ascii: "0")
                guard d <= 9 else { return nil }
                // Saturate: past 10^9 the number is out of range whatever the digit count.
                if exponent < 1_000_000_000 { exponent = exponent * 10 + Int(d) }
                i += 1
            }
            if exponentNegative { exponent = -exponent }
        }
        if significantDigits == 0 { return negative ? -0.0 : 0.0 }
        // The literal is significand × 10^(exponent - fractionDigits + pendingZeros); in
        // scientific notation its exponent is:
        let scientific = exponent - fractionDigits + pendingZeros + significantDigits - 1
        guard scientific >= -324 && scientific <= 308 else { return nil }  // 5e-324 ... 1.8e308
        let normalized = significand &* powersOfTen[17 - significantDigits]
        guard let result = double(shortestIs: normalized, scientific - 16) else { return nil }
        return negative ? -result : result
    }
}

// MARK: - Decimal to double

extension ECMAScriptNumber {
    /// The double whose shortest round-trip decimal is n × 10^p (10^16 <= n < 10^17), if any.
    /// Shortest decimals grow strictly with the double (each lies in its double's rounding
    /// interval, and those are disjoint), so starting from an approximation and stepping one
    /// double at a time towards n × 10^p either meets it or crosses it: exact whatever the
    /// approximation's error, which only decides the number of steps (almost always 0 or 1).
    static func double(shortestIs n: UInt64, _ p: Int) -> Double? {
        var d = approximate(n, p)
        if d.isInfinite { d = .greatestFiniteMagnitude }
        if d == 0 { d = .leastNonzeroMagnitude }
        let start = compare(d, n, p)
        if start == 0 { return d }
        let up = start < 0
        while true {
            d = up ? d.nextUp : d.nextDown
            if d == 0 || d.isInfinite { return nil }
            let order = compare(d, n, p)
            if order == 0 { return d }
            if (order < 0) != up { return nil }
        }
    }

    /// Within a few units in the last place of n × 10^p, for p in the table's range.
    @inline(__always)
    static func approximate(_ n: UInt64, _ p: Int) -> Double {
        // 10^p ≈ g1 · 2^(flog2pow10(p) - 62); n ≥ 10^16 and g1 ≥ 2^62 make the product ≥ 2^115.
        let product = n.multipliedFullWidth(by: pow10Table[2 * (p - minPow10)])
        let shift = product.high.leadingZeroBitCount
        let top = product.high << shift | product.low >> (64 - shift)
        return Double(sign: .plus, exponent: flog2pow10(p) + 2 - shift, significand: Double(top))
    }

    /// Sign of shortest(d) - n × 10^p, comparing the decimals exactly.
    @inline(__always)
    static func compare(_ d: Double, _ n: UInt64, _ p: Int) -> Int {
        let (digits, exponent) = shortest(d)
        let pad = 17 - decimalLength(digits)
        let e = exponent - pad
        if e != p { return e < p ? -1 : 1 }
        let m = digits &* powersOfTen[pad]
        return m == n ? 0 : (m < n ? -1 : 1)
    }
}

// MARK: - Schubfach

extension ECMAScriptNumber {
    /// Shortest round-trip decimal digits × 10^exponent of a finite v > 0, the closest one
    /// (ties to even digits) when several are shortest. `digits` may end in zeros.
    static func shortest(_ v: Double) -> (digits: UInt64, exponent: Int) {
        let bits = v.bitPattern
        let fraction = bits & (1 << 52 - 1)
        let biased = Int(truncatingIfNeeded: bits >> 52)
        if biased != 0 {
            let mq = 1075 - biased
            let c = 1 << 52 | fraction
            if 0 < mq && mq < 53 {  // an integer: it is its own shortest decimal
                let integer = c >> UInt64(mq)
                if integer << UInt64(mq) == c { return (integer, 0) }
            }
            return toDecimal(-mq, c)
        }
        // Java scales the two smallest subnormals by 10 here to get its two-digit minimum
        // (4.9E-324); ECMAScript wants one digit (5e-324), so they take the common path.
        return toDecimal(-1074, fraction)
    }

    /// The paper's toDecimal for v = c · 2^q; names follow the paper (§9, Figure 6 variant).
    @inline(__always)
    private static func toDecimal(_ q: Int, _ c: UInt64) -> (digits: UInt64, exponent: Int) {
        let out = c & 1  // odd c: the interval's end points round to the neighbours, so exclude them
        let cb = c << 2
        let cbr = cb + 2
        let irregular = c == 1 << 52 && q != -1074  // a power of two: the gap below is half the gap above
        let cbl = irregular ? cb - 1 : cb - 2
        let k = (q &* 661_971_961_083 &- (irregular ? 274_743_187_321 : 0)) >> 41  // ⌊log10((3/4) 2^q)⌋
        let h = q + flog2pow10(-k) + 2
        let index = 2 * (-k - minPow10)
        let g1 = pow10Table[index], g0 = pow10Table[index + 1]
        let vb = roundToOdd(g1, g0, cb &<< h)
        let vbl = roundToOdd(g1, g0, cbl &<< h)
        let vbr = roundToOdd(g1, g0, cbr &<< h)
        let s = vb >> 2
        // Prefer one digit less: a multiple of 10 in the rounding interval. The interval is
        // narrower than 10 units, so at most one of them is in it. Java requires s >= 100 for
        // its two-digit minimum; ECMAScript's minimum is one digit.
        if s >= 10 {
            let sp10 = 10 &* s.multipliedFullWidth(by: 115_292_150_460_684_698 << 4).high  // 10·⌊s/10⌋
            let tp10 = sp10 + 10
            let upin = vbl + out <= sp10 << 2
            let wpin = tp10 << 2 + out <= vbr
            if upin != wpin { return (upin ? sp10 : tp10, k) }
        }
        let t = s + 1
        let uin = vbl + out <= s << 2
        let win = t << 2 + out <= vbr
        if uin != win { return (uin ? s : t, k) }
        let mid = (s + t) << 1  // both candidates qualify: take the closer, ties to even
        return (vb < mid || (vb == mid && s & 1 == 0) ? s : t, k)
    }

    /// ⌊cp · g / 2^127⌋ with its last bit set when the remainder is nonzero ("round to odd").
    @inline(__always)
    private static func roundToOdd(_ g1: UInt64, _ g0: UInt64, _ cp: UInt64) -> UInt64 {
        let x1 = g0.multipliedFullWidth(by: cp).high
        let y = g1.multipliedFullWidth(by: cp)
        let z = y.low >> 1 &+ x1
        let mask: UInt64 = 1 << 63 - 1
        return (y.high &+ z >> 63) | ((z & mask) &+ mask) >> 63
    }

    /// ⌊log2(10^e)⌋ for |e| <= 1233.
    @inline(__always)
    static func flog2pow10(_ e: Int) -> Int { (e &* 913_124_641_741) >> 38 }
}

// MARK: - Tables and digits

/// 10^e for e in minPow10...maxPow10 as g = ⌊10^e · 2^(125 - ⌊log2 10^e⌋)⌋ + 1, a 126-bit
/// overestimate, stored as (g >> 63, g & (2^63 - 1)) pairs: the paper's table, extended
/// down to 10^-340 so `approximate` can scale any 17-digit significand. Computed once with
/// exact integer arithmetic rather than pasted as 1,330 hex literals.
private let minPow10 = -340
private let maxPow10 = 324
private let pow10Table: [UInt64] = {
    var table = [UInt64](repeating: 0, count: 2 * (maxPow10 - minPow10 + 1))
    /// Stores ⌊x / 2^shift⌋ + 1 for 10^e; x is little-endian 32-bit limbs.
    func store(_ e: Int, _ x: [UInt32], shift: Int) {
        func bit(_ i: Int) -> UInt64 {
            guard i >= 0, i >> 5 < x.count else { return 0 }
            return UInt64(x[i >> 5] >> UInt32(i & 31) & 1)
        }
        var high: UInt64 = 0, low: UInt64 = 0
        for i in 0..<63 {
            low |= bit(shift + i) << UInt64(i)
            high |= bit(shift + 63 + i) << UInt64(i)
        }
        let top = x.lastIndex { $0 != 0 }!
        precondition(32 * top + 32 - x[top].leadingZeroBitCount == shift + 126, "10^\(e) not 126 bits")
        low += 1
        if low >> 63 != 0 { low = 0; high += 1 }
        table[2 * (e - minPow10)] = high
        table[2 * (e - minPow10) + 1] = low
    }
    var power: [UInt32] = [1]  // 10^e
    for e in 0...maxPow10 {
        store(e, power, shift: ECMAScriptNumber.flog2pow10(e) - 125)
        var carry: UInt64 = 0
        for i in power.indices {
            let t = UInt64(power[i]) * 10 + carry
            (power[i], carry) = (UInt32(truncatingIfNeeded: t), t >> 32)
        }
        if carry != 0 { power.append(UInt32(carry)) }
    }
    // ⌊2^s / 10^n⌋ = ⌊⌊2^big / 10^n⌋ / 2^(big - s)⌋, and ⌊2^big / 10^n⌋ is n exact divisions by 10.
    let big = 1400
    var quotient = [UInt32](repeating: 0, count: big / 32 + 1)
    quotient[big / 32] = 1 << UInt32(big % 32)
    for n in 1...(-minPow10) {
        var remainder: UInt64 = 0
        for i in quotient.indices.reversed() {
            let t = remainder << 32 | UInt64(quotient[i])
            (quotient[i], remainder) = (UInt32(t / 10), t % 10)
        }
        store(-n, quotient, shift: big - (125 - ECMAScriptNumber.flog2pow10(-n)))
    }
    return table
}()

private let powersOfTen: [UInt64] = [
    1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000, 1_000_000_000, 10_000_000_000,
    100_000_000_000, 1_000_000_000_000, 10_000_000_000_000, 100_000_000_000_000, 1_000_000_000_000_000,
    10_000_000_000_000_000, 100_000_000_000_000_000, 1_000_000_000_000_000_000, 10_000_000_000_000_000_000,
]

extension ECMAScriptNumber {
    /// Number of decimal digits of v >= 1.
    @inline(__always)
    static func decimalLength(_ v: UInt64) -> Int {
        let estimate = ((64 - v.leadingZeroBitCount) &* 1233) >> 12  // ⌊bits · log10(2)⌋
        return v >= powersOfTen[estimate] ? estimate + 1 : estimate
    }

    /// Writes exactly `count` digits of v to p ..< p + count: eight-digit halves and two digits
    /// at a time keep the chain of dependent divisions short (digits are most of `write`'s time).
    @inline(__always)
    private static func writeDigits(_ v: UInt64, count: Int, to p: UnsafeMutablePointer<UInt8>) {
        var end = p + count
        var v = v
        while v >= 100_000_000 {
            let q = v / 100_000_000
            let r = UInt32(truncatingIfNeeded: v &- q &* 100_000_000)
            let high = r / 10_000, low = r &- high &* 10_000
            end -= 8
            writePair(high / 100, to: end)
            writePair(high % 100, to: end + 2)
            writePair(low / 100, to: end + 4)
            writePair(low % 100, to: end + 6)
            v = q
        }
        var w = UInt32(truncatingIfNeeded: v)
        while w >= 100 {
            let q = w / 100
            end -= 2
            writePair(w &- q &* 100, to: end)
            w = q
        }
        if w >= 10 {
            writePair(w, to: end - 2)
        } else {
            end[-1] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: w)
        }
    }

    @inline(__always)
    private static func writePair(_ pair: UInt32, to p: UnsafeMutablePointer<UInt8>) {
        // SAFETY: pair < 100, so both bytes read lie in the 200-byte literal.
        let source = digitPairs.utf8Start + Int(pair &* 2)
        p[0] = source[0]
        p[1] = source[1]
    }

    private static let digitPairs: StaticString = """
        00010203040506070809101112131415161718192021222324\
        25262728293031323334353637383940414243444546474849\
        50515253545556575859606162636465666768697071727374\
        75767778798081828384858687888990919293949596979899
        """

    /// Formats into a stack buffer and appends it in one piece, so the hot path never allocates
    /// beyond `out`'s own growth.
    @inline(__always)
    private static func emit(into out: inout [UInt8],
                             _ body: (UnsafeMutablePointer<UInt8>) -> UnsafeMutablePointer<UInt8>) {
        // SAFETY: the longest form is "-0.00000" plus 17 digits = 25 bytes ("-" + 21 digits, and
        // "-d.dddddddddddddddde-324" are shorter), so `body` stays inside the 32-byte buffer, and
        // only the `end - base` bytes it wrote are read back.
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 32) { buffer in
            let base = buffer.baseAddress!
            let end = body(base)
            out.append(contentsOf: UnsafeBufferPointer(start: base, count: end - base))
        }
    }
}
