// libFuzzer target for the I-JSON parser and the RFC 8785 writer.
//
// Built by `make fuzz` (contrib/dev/fuzz-json) together with the sources of
// Sources/LedgerCore/JSON as one module:
//   swiftc -O -sanitize=fuzzer,address -parse-as-library \
//     Sources/LedgerCore/JSON/*.swift Tests/Fuzz/FuzzJSONParser.swift -o .build/fuzz-json
//
// Properties checked on every input the parser accepts:
// - the canonical output parses again, and canonicalizing it is a fixed point;
// - the canonical output is valid UTF-8 (String round trip is lossless).
// Inputs it rejects must be rejected with a JSONError, never a crash or a hang.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSONParser(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    var tape = JSONTape()
    do {
        try tape.parse(bytes)
    } catch {
        return 0
    }
    let canonical = CanonicalJSON.encode(tape, bytes: bytes)
    var again = JSONTape()
    do {
        try again.parse(canonical)
    } catch {
        fatalError("canonical output does not parse: \(error)")
    }
    let twice = canonical.withUnsafeBytes { CanonicalJSON.encode(again, bytes: $0) }
    precondition(twice == canonical, "canonical form is not a fixed point")
    precondition(Array(String(decoding: canonical, as: UTF8.self).utf8) == canonical, "canonical output is not UTF-8")
    return 0
}
