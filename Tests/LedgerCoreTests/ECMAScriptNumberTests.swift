import Foundation
import Testing

@testable import LedgerCore

/// Proves ECMAScriptNumber: `write` against node's Number.prototype.toString (Vectors/numbers.txt,
/// made by contrib/dev/gen-number-vectors.js) and Swift's own shortest round-trip `description`;
/// `exactDouble` by a table of literals and the round-trip property.
@Suite struct ECMAScriptNumberTests {
    static func written(_ value: Double) -> String {
        var out: [UInt8] = []
        ECMAScriptNumber.write(value, into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    static func exact(_ literal: String) -> Double? {
        var literal = literal
        return literal.withUTF8 { ECMAScriptNumber.exactDouble(UnsafeRawBufferPointer($0)) }
    }

    static func randomFiniteDoubles(_ count: Int, seed: UInt64) -> [Double] {
        var rng = SplitMix64(seed: seed)
        var result: [Double] = []
        while result.count < count {
            let d = Double(bitPattern: rng.next())
            if d.isFinite { result.append(d) }
        }
        return result
    }

    static func vectors() throws -> [(bits: UInt64, text: String)] {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Vectors/numbers.txt")
        let lines = try String(contentsOf: url, encoding: .utf8).split(separator: "\n")
        return try lines.filter { !$0.hasPrefix("#") }.map { line in
            let parts = line.split(separator: " ")
            let bits = try #require(parts.count == 2 ? UInt64(parts[0], radix: 16) : nil, "bad line \(line)")
            return (bits, String(parts[1]))
        }
    }

    @Test func goldenVectorsFromNode() throws {
        let vectors = try Self.vectors()
        #expect(vectors.count > 30_000)
        var failures: [String] = []
        for (bits, expected) in vectors {
            let got = Self.written(Double(bitPattern: bits))
            if got != expected { failures.append("\(String(bits, radix: 16)): \(got) != \(expected)") }
        }
        #expect(failures.isEmpty, "\(failures.count) mismatches, first: \(failures.prefix(10))")
    }

    @Test func goldenVectorsReadBackExactly() throws {
        var failures: [String] = []
        for (bits, text) in try Self.vectors() {
            let value = Double(bitPattern: bits)
            let expected = value == 0 ? 0.0 : value  // "0" is written for -0 and reads as +0
            if Self.exact(text)?.bitPattern != expected.bitPattern { failures.append(text) }
        }
        #expect(failures.isEmpty, "\(failures.count) failures, first: \(failures.prefix(10))")
    }

    @Test(arguments: [
        // RFC 8785 Appendix B.
        (0x0000_0000_0000_0000, "0"), (0x8000_0000_0000_0000, "0"), (0x0000_0000_0000_0001, "5e-324"),
        (0x8000_0000_0000_0001, "-5e-324"), (0x7fef_ffff_ffff_ffff, "1.7976931348623157e+308"),
        (0xffef_ffff_ffff_ffff, "-1.7976931348623157e+308"), (0x4340_0000_0000_0000, "9007199254740992"),
        (0xc340_0000_0000_0000, "-9007199254740992"), (0x4430_0000_0000_0000, "295147905179352830000"),
        (0x44b5_2d02_c7e1_4af5, "9.999999999999997e+22"), (0x44b5_2d02_c7e1_4af6, "1e+23"),
        (0x44b5_2d02_c7e1_4af7, "1.0000000000000001e+23"), (0x444b_1ae4_d6e2_ef4f, "999999999999999900000"),
        (0x444b_1ae4_d6e2_ef50, "1e+21"), (0x3eb0_c6f7_a0b5_ed8c, "9.999999999999997e-7"),
        (0x3eb0_c6f7_a0b5_ed8d, "0.000001"), (0x41b3_de43_5555_5553, "333333333.3333332"),
        (0x41b3_de43_5555_5556, "333333333.3333334"), (0x41b3_de43_5555_5555, "333333333.3333333"),
        // Exponent form below 1e-6, and the classic binary fractions.
        (0x3e84_21f5_f40d_8376, "1.5e-7"), (0x3fb9_9999_9999_999a, "0.1"),
        (0x3fd3_3333_3333_3334, "0.30000000000000004"),
    ] as [(UInt64, String)])
    func appendixB(bits: UInt64, expected: String) {
        #expect(Self.written(Double(bitPattern: bits)) == expected)
    }

    @Test func layoutExamples() {
        #expect(Self.written(1.2345678901234568e20) == "123456789012345680000")
        #expect(Self.written(1e21) == "1e+21")
        #expect(Self.written(-1.5e-7) == "-1.5e-7")
        #expect(Self.written(1e-7) == "1e-7")
        #expect(Self.written(0.000001) == "0.000001")
        #expect(Self.written(0.0000015) == "0.0000015")
        #expect(Self.written(-0.0) == "0")
        #expect(Self.written(-42) == "-42")
        #expect(Self.written(1.5) == "1.5")
        #expect(Self.written(100) == "100")
        #expect(Self.written(1e20) == "100000000000000000000")
    }

    /// Swift's `description` is also shortest round-trip and closest: a second oracle, on random
    /// doubles beyond the committed vectors. Compares the decimals numerically, not the layout.
    @Test func agreesWithSwiftDescription() {
        func decimal(_ text: String) -> (digits: Substring, exponent: Int) {
            let mantissa = text.split(separator: "e").first!
            let exponent = text.split(separator: "e").dropFirst().first.map { Int($0)! } ?? 0
            let point = mantissa.firstIndex(of: ".").map { mantissa.distance(from: mantissa.startIndex, to: $0) }
            var all = Substring(mantissa.filter { $0.isNumber })
            var pointAt = point ?? all.count
            while all.first == "0" { all.removeFirst(); pointAt -= 1 }
            while all.last == "0" { all.removeLast() }
            return (all, exponent + pointAt)
        }
        var failures: [String] = []
        for d in Self.randomFiniteDoubles(100_000, seed: 0x5eed) where d != 0 {
            let ours = decimal(Self.written(d.magnitude)), theirs = decimal(d.magnitude.description)
            if ours != theirs { failures.append("\(d): \(Self.written(d))") }
        }
        #expect(failures.isEmpty, "\(failures.count) mismatches, first: \(failures.prefix(10))")
    }

    @Test func roundTripProperty() {
        var failures: [String] = []
        for d in Self.randomFiniteDoubles(200_000, seed: 42) {
            let text = Self.written(d)
            let back = Self.exact(text)
            if back?.bitPattern != (d == 0 ? 0.0 : d).bitPattern { failures.append("\(d.bitPattern): \(text)") }
        }
        #expect(failures.isEmpty, "\(failures.count) failures, first: \(failures.prefix(10))")
    }

    @Test(arguments: [
        ("0", 0.0),  // zero
        ("-0", -0.0),  // negative zero keeps its sign
        ("0.0", 0.0), ("-0.0e-5", -0.0), ("0e5", 0.0),  // zero with any exponent is still zero
        ("0e999999999999999999999", 0.0),  // ... even one that does not fit an Int
        ("1", 1), ("-17", -17), ("999999999999999", 999_999_999_999_999),  // the integer fast path
        ("0.1", 0.1), ("1.50", 1.5), ("1e2", 100), ("1E+2", 100), ("15e-1", 1.5),  // trailing zeros and exponents don't matter
        ("0.30000000000000004", 0.30000000000000004),  // 17 digits, exactly the shortest form
        ("9007199254740992", 9_007_199_254_740_992),  // 2^53
        ("900719925474099.2", 900_719_925_474_099.2),  // 16 digits, a double's shortest form
        ("123456789012345680000", 1.2345678901234568e20),  // ECMAScript's own form of 1.2345678901234568e20
        ("1e+21", 1e21), ("1e-7", 1e-7),  // what `write` emits at the layout switches
        ("1.7976931348623157e308", .greatestFiniteMagnitude),  // largest finite double, no overflow
        ("5e-324", .leastNonzeroMagnitude), ("-5e-324", -.leastNonzeroMagnitude),  // smallest subnormal
        ("2.2250738585072014e-308", .leastNormalMagnitude),  // smallest normal
        ("1000000000000000000000000000000", 1e30),  // many zeros, one significant digit
        ("0.000000000000000000000000000001", 1e-30),  // many leading zeros, one significant digit
        ("100000000000000000000000", 1e23),  // 1e23 is the shortest form, though the double is 99999999999999991611392
        ("1.0000000000000000000000", 1),  // trailing zeros beyond 17 digits are not significant
    ] as [(String, Double)])
    func exactDoubleAccepts(literal: String, expected: Double) {
        #expect(Self.exact(literal)?.bitPattern == expected.bitPattern, "\(literal)")
    }

    @Test(arguments: [
        "12345678901234567890",  // 20 digits: reads as 12345678901234567000
        "9007199254740993",  // 2^53 + 1: reads as 2^53
        "9007199254740993e-1",  // 16 digits too: reads as 900719925474099.2
        "0.1000000000000000055511151231257827",  // reads as 0.1, but is not 0.1 (34 digits)
        "1.00000000000000001",  // 18 significant digits never survive
        "99999999999999991611392",  // the exact value of the double 1e23, but its shortest form is 1e23
        "0.30000000000000003",  // reads as 0.30000000000000004
        "1e400", "-1e400", "1.7976931348623159e308", "1e309",  // overflow to infinity
        "1e-400", "2e-324", "-1e-325",  // underflow to zero
        "3e-324",  // reads as 5e-324
        "1e999999999999", "1e-999999999999", "1e99999999999999999999999999",  // huge exponents
        "", "-", "1e", "1.2.3", "x", "1e+",  // not numbers at all
    ])
    func exactDoubleRejects(literal: String) {
        #expect(Self.exact(literal) == nil, "\(literal)")
    }

    /// Long literals stay linear and are judged by their significant digits only.
    @Test func exactDoubleLongLiterals() {
        let zeros = String(repeating: "0", count: 1 << 20)
        #expect(Self.exact("1" + zeros) == nil)  // 1e1048576 overflows
        #expect(Self.exact("1." + zeros) == 1)  // trailing fraction zeros are harmless
        #expect(Self.exact("0." + zeros + "1") == nil)  // 1e-1048577 underflows
        #expect(Self.exact("0." + zeros + "1e1048580") == 1000)  // brought back by the exponent
        #expect(Self.exact("1" + zeros + "e-1048576") == 1)
        #expect(Self.exact("1." + zeros + "1") == nil)  // over a million significant digits
        #expect(Self.exact(String(repeating: "9", count: 1 << 20)) == nil)
    }

    /// Every entry of the power-of-ten table is 126 bits wide (checked when it is built) and
    /// approximates 10^p to within an ulp or two: `double(shortestIs:)` rarely needs to step.
    @Test func approximationIsClose() {
        for d in Self.randomFiniteDoubles(20_000, seed: 7) where d != 0 {
            let (digits, exponent) = ECMAScriptNumber.shortest(d.magnitude)
            let pad = 17 - ECMAScriptNumber.decimalLength(digits)
            var n = digits
            for _ in 0..<pad { n *= 10 }
            let approx = ECMAScriptNumber.approximate(n, exponent - pad)
            let ulps = abs(Int64(bitPattern: approx.bitPattern) - Int64(bitPattern: d.magnitude.bitPattern))
            #expect(ulps <= 2, "\(d) approximated as \(approx)")
        }
    }
}
