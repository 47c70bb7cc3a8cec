import Testing
@testable import LedgerCore

/// FORMAT.md §1: the parser accepts exactly I-JSON within the limits.
@Suite struct JSONParserTests {
    @Test(arguments: [
        #"{}"#, #"[]"#, #"0"#, #"-0"#, #"1.5e-7"#, #""""#, #"null"#, #"true"#, #"false"#,
        " \t\r\n{\"a\" : [ 1 , 2 ] }\n ",
        #"{"a":{"b":{"c":[null,{"d":"e"}]}}}"#,
        #""\ud83d\ude00""#,              // an escaped surrogate pair
        "\"😀 ü € \u{7F} \u{2028}\"",     // literal multi-byte UTF-8, DEL, LINE SEPARATOR
        #""\"\\\/\b\f\n\r\t\u0000""#,    // every escape
        #"0.1"#, #"1E30"#, #"4.50"#, #"9007199254740992"#, #"1e-27"#, #"-1.7976931348623157e308"#,
        #"{"a":1,"b":1}"#, #"{"a":1,"A":1}"#,
    ])
    func acceptsIJSON(_ text: String) {
        #expect(parseError(text) == nil)
    }

    @Test(arguments: [
        // (input, reason)
        ("", JSONError.Reason.empty),
        ("   ", .empty),
        ("{", .syntax),
        ("{\"a\"}", .syntax),
        ("{\"a\":1,}", .syntax),
        ("[1,]", .syntax),
        ("[1 2]", .syntax),
        ("01", .syntax),
        ("1.", .syntax),
        (".5", .syntax),
        ("1e", .syntax),
        ("+1", .syntax),
        ("NaN", .syntax),
        ("Infinity", .syntax),
        ("tru", .syntax),
        ("nul", .syntax),
        ("'a'", .syntax),
        ("\"abc", .syntax),
        ("\"a\tb\"", .syntax),               // raw control character in a string
        ("\"\\x\"", .syntax),                // unknown escape
        ("\"\\u12G4\"", .syntax),
        ("{} {}", .syntax),                  // trailing data
        ("{\"a\":1}x", .syntax),
        ("{1:2}", .syntax),
        ("\"\\ud800\"", .loneSurrogate),      // high surrogate alone
        ("\"\\ud800\\u0041\"", .loneSurrogate),
        ("\"\\udc00\"", .loneSurrogate),      // low surrogate alone
        ("\"\\ude00\\ud83d\"", .loneSurrogate), // reversed pair
        ("{\"a\":1,\"a\":2}", .duplicateName),
        ("{\"a\":1,\"\\u0061\":2}", .duplicateName), // duplicate after unescaping
        ("{\"x\":{\"b\":[],\"c\":0,\"b\":null}}", .duplicateName),
        ("12345678901234567890", .inexactNumber),
        ("9007199254740993", .inexactNumber),
        ("1e400", .inexactNumber),
        ("-1e400", .inexactNumber),
        ("1e-400", .inexactNumber),
        ("0.1000000000000000000000000001", .inexactNumber),
    ])
    func rejectsWithReason(_ input: String, _ reason: JSONError.Reason) {
        #expect(parseError(input)?.reason == reason, "input: \(input)")
    }

    @Test(arguments: [
        [UInt8]([0x22, 0xFF, 0x22]),              // invalid byte
        [0x22, 0xC0, 0xAF, 0x22],                 // overlong '/'
        [0x22, 0xE0, 0x80, 0xAF, 0x22],           // overlong 3-byte
        [0x22, 0xED, 0xA0, 0x80, 0x22],           // UTF-8 encoded surrogate U+D800
        [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22],     // above U+10FFFF
        [0x22, 0xC3, 0x22],                       // truncated sequence
        [0x22, 0xE2, 0x82, 0x41, 0x22],           // bad continuation
        [0x22, 0x80, 0x22],                       // lone continuation byte
    ])
    func rejectsInvalidUTF8(_ bytes: [UInt8]) {
        #expect(parseError(bytes)?.reason == .invalidUTF8)
    }

    @Test func nestingOf64IsAcceptedAnd65Rejected() {
        let ok = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
        let deep = String(repeating: "[", count: 65) + String(repeating: "]", count: 65)
        let deepObject = String(repeating: "{\"a\":", count: 65) + "1" + String(repeating: "}", count: 65)
        #expect(parseError(ok) == nil)
        #expect(parseError(deep)?.reason == .tooDeep)
        #expect(parseError(deepObject)?.reason == .tooDeep)
        // Far deeper input fails cleanly instead of exhausting the stack.
        #expect(parseError(String(repeating: "[", count: 100_000))?.reason == .tooDeep)
    }

    @Test func errorsNameTheOffsetAndTheProblem() throws {
        let error = try #require(parseError("{\"a\":1,\"a\":2}"))
        #expect(error.offset == 7)
        #expect(error.message.contains("\"a\""))
        let number = try #require(parseError("{\"n\":12345678901234567890}"))
        #expect(number.message.contains("12345678901234567890"))
        #expect(number.message.contains("string"))
    }

    @Test func tapeExposesValuesAndSkipsSubtrees() throws {
        let text = Array(#"{"z":[1,{"q":2}],"a":"x\u0041","n":-2.5,"i":42}"#.utf8)
        var tape = JSONTape()
        try tape.parse(text)
        try text.withUnsafeBytes { bytes in
            let a = try #require(tape.value(of: "a", in: 0, bytes: bytes))
            #expect(tape.string(a, bytes: bytes) == "xA")
            let n = try #require(tape.value(of: "n", in: 0, bytes: bytes))
            #expect(tape.double(n, bytes: bytes) == -2.5)
            #expect(tape.exactInteger(n, bytes: bytes) == nil)
            let i = try #require(tape.value(of: "i", in: 0, bytes: bytes))
            #expect(tape.exactInteger(i, bytes: bytes) == 42)
            let z = try #require(tape.value(of: "z", in: 0, bytes: bytes))
            #expect(tape.elements(of: z).count == 2)
            #expect(tape[Int(tape[z].next)].kind == .string)  // the next member name, past the whole array
        }
    }
}
