import Testing
@testable import LedgerCore

/// RFC 8785 output: the RFC's own examples, the escaping and ordering rules, and
/// random round trips against an independent model.
@Suite struct CanonicalJSONTests {
    /// RFC 8785 §3.2.2, with its first number written as the double's shortest form:
    /// the RFC's `333333333.33333329` changes value when read as a double, which
    /// FORMAT.md §1 rejects (checked separately below).
    @Test func rfc8785SampleData() throws {
        let input = #"""
            {
              "numbers": [333333333.3333333, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
              "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
              "literals": [null, true, false]
            }
            """#
        let expected = #"{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}"#
        #expect(try canonical(input) == expected)
    }

    @Test func rfc8785SampleWithAnInexactNumberIsRejected() {
        #expect(parseError(#"{"numbers":[333333333.33333329]}"#)?.reason == .inexactNumber)
    }

    /// RFC 8785 §3.2.3: sorting by UTF-16 code units puts U+1F600 (a surrogate pair) before U+FB33.
    @Test func rfc8785SortingExample() throws {
        let input = #"""
            {
              "\u20ac": "Euro Sign",
              "\r": "Carriage Return",
              "\ufb33": "Hebrew Letter Dalet With Dagesh",
              "1": "One",
              "\ud83d\ude00": "Emoji: Grinning Face",
              "\u0080": "Control",
              "\u00f6": "Latin Small Letter O With Diaeresis"
            }
            """#
        let expected = "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u{80}\":\"Control\","
            + "\"ö\":\"Latin Small Letter O With Diaeresis\",\"€\":\"Euro Sign\","
            + "\"😀\":\"Emoji: Grinning Face\",\"\u{FB33}\":\"Hebrew Letter Dalet With Dagesh\"}"
        #expect(try canonical(input) == expected)
    }

    @Test(arguments: [
        (#""\u001f\u001F\u0007""#, #""\u001f\u001f\u0007""#),       // other controls as lowercase \u00xx
        (#""\b\f\n\r\t""#, #""\b\f\n\r\t""#),                       // the short escapes stay
        (#""\u0008\u000C""#, #""\b\f""#),                           // and are preferred
        (#""\/""#, #""/""#),                                        // solidus unescaped
        (#""\u007f\u2028\u00e9""#, "\"\u{7F}\u{2028}é\""),          // DEL, U+2028 and the rest literal
        (#""\u0022\u005C""#, #""\"\\""#),
        (#"-0"#, "0"), (#"-0.0"#, "0"), (#"1.0"#, "1"), (#"1e2"#, "100"), (#"1E+2"#, "100"),
        (#"1e21"#, "1e+21"), (#"1e-7"#, "1e-7"), (#"0.000001"#, "0.000001"), (#"123e-2"#, "1.23"),
        (#"[ 1 , { "b" : 2 , "a" : 1 } ]"#, #"[1,{"a":1,"b":2}]"#),
        (#"{"a":{},"b":[],"c":""}"#, #"{"a":{},"b":[],"c":""}"#),
    ])
    func writesTheOneCanonicalForm(_ input: String, _ expected: String) throws {
        #expect(try canonical(input) == expected)
    }

    @Test func canonicalFormIsAFixedPoint() throws {
        var generator = SeededGenerator(seed: 7)
        for _ in 0..<500 {
            let value = JSONModel.random(using: &generator, depth: 0)
            let once = try canonical(value.render(using: &generator))
            #expect(try canonical(once) == once)
        }
    }

    /// Random documents written with random whitespace, escapes, member order and number
    /// spellings canonicalize to what an independent model of RFC 8785 says.
    @Test func randomDocumentsMatchTheModel() throws {
        var generator = SeededGenerator(seed: 20261123)
        for _ in 0..<2_000 {
            let value = JSONModel.random(using: &generator, depth: 0)
            let input = value.render(using: &generator)
            #expect(try canonical(input) == value.canonical, "input: \(input)")
        }
    }
}

/// An independent model of JSON values and their RFC 8785 form, for property tests.
indirect enum JSONModel {
    case null, bool(Bool), integer(Int64), double(Double), string(String)
    case array([JSONModel]), object([(String, JSONModel)])

    static let alphabet: [Character] = ["a", "b", "Z", "0", " ", "\"", "\\", "/", "\n", "\t", "\u{1}", "\u{1F}",
                                        "\u{7F}", "é", "€", "\u{2028}", "😀", "\u{FB33}", "\u{E000}", "\u{FFFF}", "𝄞"]

    static func randomString(using g: inout SeededGenerator) -> String {
        String((0..<Int.random(in: 0...6, using: &g)).map { _ in alphabet.randomElement(using: &g)! })
    }

    static func random(using g: inout SeededGenerator, depth: Int) -> JSONModel {
        let pick = Int.random(in: 0..<(depth >= 4 ? 5 : 7), using: &g)
        switch pick {
        case 0: return .null
        case 1: return .bool(Bool.random(using: &g))
        case 2: return .integer(Int64.random(in: -9_007_199_254_740_991...9_007_199_254_740_991, using: &g) >> Int64.random(in: 0...50, using: &g))
        case 3:
            var d: Double
            repeat { d = Double(bitPattern: g.next()) } while !d.isFinite
            return .double(d)
        case 4: return .string(randomString(using: &g))
        case 5: return .array((0..<Int.random(in: 0...4, using: &g)).map { _ in random(using: &g, depth: depth + 1) })
        default:
            var seen = Set<String>()
            var members: [(String, JSONModel)] = []
            for _ in 0..<Int.random(in: 0...5, using: &g) {
                let key = randomString(using: &g)
                if seen.insert(key).inserted { members.append((key, random(using: &g, depth: depth + 1))) }
            }
            return .object(members)
        }
    }

    /// RFC 8785 written independently of the code under test (numbers excepted: the
    /// ECMAScript form is pinned by its own golden vectors).
    var canonical: String {
        switch self {
        case .null: return "null"
        case let .bool(b): return b ? "true" : "false"
        case let .integer(i): return String(i)
        case let .double(d):
            var out: [UInt8] = []
            ECMAScriptNumber.write(d, into: &out)
            return String(decoding: out, as: UTF8.self)
        case let .string(s): return Self.quote(s)
        case let .array(items): return "[" + items.map(\.canonical).joined(separator: ",") + "]"
        case let .object(members):
            let sorted = members.sorted { Array($0.0.utf16).lexicographicallyPrecedes(Array($1.0.utf16)) }
            return "{" + sorted.map { Self.quote($0.0) + ":" + $0.1.canonical }.joined(separator: ",") + "}"
        }
    }

    static func quote(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\u{8}": out += "\\b"
            case "\u{C}": out += "\\f"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// A valid but non-canonical spelling: random whitespace, escapes, member order, number forms.
    func render(using g: inout SeededGenerator) -> String {
        func ws(_ g: inout SeededGenerator) -> String { ["", "", " ", "\n", "\t ", "\r\n"].randomElement(using: &g)! }
        switch self {
        case .null: return "null"
        case let .bool(b): return b ? "true" : "false"
        case let .integer(i):
            switch Int.random(in: 0..<3, using: &g) {
            case 0: return String(i)
            case 1: return String(i) + ".0"
            default: return abs(i) < 1_000_000_000 ? String(i) + "e0" : String(i)
            }
        case let .double(d): return d == 0 ? (d.sign == .minus ? "-0.0" : "0E+0") : "\(d)"
        case let .string(s):
            var out = "\""
            for scalar in s.unicodeScalars {
                let escape = Bool.random(using: &g)
                switch scalar {
                case "\"": out += escape ? "\\u0022" : "\\\""
                case "\\": out += escape ? "\\u005C" : "\\\\"
                case "/": out += escape ? "\\/" : "/"
                case _ where scalar.value < 0x20 || escape:
                    for unit in String(scalar).utf16 {
                        let hex = String(unit, radix: 16, uppercase: Bool.random(using: &g))
                        out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                    }
                default: out.unicodeScalars.append(scalar)
                }
            }
            return out + "\""
        case let .array(items):
            return "[" + ws(&g) + items.map { $0.render(using: &g) + ws(&g) }.joined(separator: "," + ws(&g)) + "]"
        case let .object(members):
            let shuffled = members.shuffled(using: &g)
            return "{" + ws(&g) + shuffled.map {
                JSONModel.string($0.0).render(using: &g) + ws(&g) + ":" + ws(&g) + $0.1.render(using: &g)
            }.joined(separator: "," + ws(&g)) + ws(&g) + "}"
        }
    }
}
