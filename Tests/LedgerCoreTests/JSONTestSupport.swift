@testable import LedgerCore

/// Canonicalizes a UTF-8 string through the tape parser and writer.
func canonical(_ text: String) throws(JSONError) -> String {
    String(decoding: try CanonicalJSON.canonicalize(Array(text.utf8)), as: UTF8.self)
}

/// The parse error for `text`, or nil when it parses.
func parseError(_ text: String) -> JSONError? {
    parseError(Array(text.utf8))
}

func parseError(_ bytes: [UInt8]) -> JSONError? {
    var tape = JSONTape()
    do {
        try tape.parse(bytes)
        return nil
    } catch {
        return error
    }
}

/// A deterministic generator for property tests (SplitMix64), so failures reproduce.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
