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

/// A deterministic generator for property tests, so failures reproduce.
typealias SeededGenerator = SplitMix64
