#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// RFC 8785 (JSON Canonicalization Scheme) output from a parsed tape.
//
// Members come out in the order the parser already sorted them (UTF-16 code
// units), numbers in ECMAScript form, strings with minimal escaping, and no
// whitespace. Proven by Tests/LedgerCoreTests/CanonicalJSONTests.swift (the
// RFC's own examples, golden vectors and random round trips).

public enum CanonicalJSON {
    /// Appends the canonical form of the value at `index` (and its subtree).
    public static func write(_ tape: JSONTape, _ index: Int, bytes: UnsafeRawBufferPointer, into out: inout [UInt8]) {
        // Canonical output is about as long as the input; bigger documents just grow.
        ByteWriter.withScratch(estimate: bytes.count + 64, appendingTo: &out) { writer in
            write(tape, index, bytes: bytes, into: &writer)
        }
    }

    /// The hot-path form: appends to a `ByteWriter` (see there for why).
    static func write(_ tape: JSONTape, _ index: Int, bytes: UnsafeRawBufferPointer, into out: inout ByteWriter) {
        // SAFETY: the tape's arrays are not mutated while these buffers are in use.
        tape.withUnsafeStorage { nodes, members, numbers in
            TapeView(nodes: nodes, members: members, numbers: numbers, bytes: bytes).write(index, into: &out)
        }
    }

    /// Unsafe views of a tape's arrays: the recursive writer then does no reference
    /// counting and no copy-on-write checks per value.
    struct TapeView {
        let nodes: UnsafeBufferPointer<JSONNode>
        let members: UnsafeBufferPointer<UInt32>
        let numbers: UnsafeBufferPointer<Double>
        let bytes: UnsafeRawBufferPointer

        func write(_ index: Int, into out: inout ByteWriter) {
            let node = nodes[index]
            switch node.kind {
            case .null: out.append("null")
            case .true: out.append("true")
            case .false: out.append("false")
            case .number:
                if node.isSimpleInteger {
                    writeSimpleInteger(node, bytes: bytes, into: &out)
                } else {
                    var text: [UInt8] = []
                    ECMAScriptNumber.write(numbers[Int(node.aux)], into: &text)
                    out.append(text)
                }
            case .string: writeString(node, bytes: bytes, into: &out)
            case .array:
                out.append(UInt8(ascii: "["))
                var child = index + 1
                for position in 0..<Int(node.count) {
                    if position > 0 { out.append(UInt8(ascii: ",")) }
                    write(child, into: &out)
                    child = Int(nodes[child].next)
                }
                out.append(UInt8(ascii: "]"))
            case .object:
                out.append(UInt8(ascii: "{"))
                let start = Int(node.aux)
                for position in start..<start + Int(node.count) {
                    if position > start { out.append(UInt8(ascii: ",")) }
                    let name = Int(members[position])
                    writeString(nodes[name], bytes: bytes, into: &out)
                    out.append(UInt8(ascii: ":"))
                    write(name + 1, into: &out)
                }
                out.append(UInt8(ascii: "}"))
            }
        }
    }

    /// The canonical form of a whole document.
    public static func encode(_ tape: JSONTape, bytes: UnsafeRawBufferPointer) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        write(tape, 0, bytes: bytes, into: &out)
        return out
    }

    /// Parses `input` and returns its canonical form.
    public static func canonicalize(_ input: [UInt8], limits: JSONLimits = .default) throws(JSONError) -> [UInt8] {
        var tape = JSONTape()
        try tape.parse(input, limits: limits)
        return input.withUnsafeBytes { encode(tape, bytes: $0) }
    }

    @inline(__always)
    static func writeString(_ node: JSONNode, bytes: UnsafeRawBufferPointer, into out: inout ByteWriter) {
        let raw = UnsafeRawBufferPointer(rebasing: bytes[Int(node.start)..<Int(node.end)])
        if !node.hasEscapes {
            // Without escapes the raw content is already canonical: the parser refused raw
            // control characters, and '"' and '\\' cannot appear unescaped.
            let length = raw.count
            let target = out.appendUninitialized(length + 2)
            target[0] = UInt8(ascii: "\"")
            // SAFETY: target has length + 2 bytes; raw lies inside the input.
            if length > 0 { memcpy(target + 1, raw.baseAddress!, length) }
            target[length + 1] = UInt8(ascii: "\"")
            return
        }
        writeEscapedString(raw, into: &out)
    }

    @inline(never)
    static func writeEscapedString(_ raw: UnsafeRawBufferPointer, into out: inout ByteWriter) {
        ByteWriter.withTemporary(estimate: raw.count) { decoded in
            JSONEscapes.decode(raw, from: 0, to: raw.count, sink: &decoded)
            JSONEscapes.writeCanonicalString(decoded.bytes, sink: &out)
        }
    }

    @inline(__always)
    static func writeSimpleInteger(_ node: JSONNode, bytes: UnsafeRawBufferPointer, into out: inout ByteWriter) {
        let start = Int(node.start), end = Int(node.end)
        // "-0" is the only simple integer whose canonical form differs from its literal.
        if end - start == 2, bytes[start] == UInt8(ascii: "-"), bytes[start + 1] == UInt8(ascii: "0") {
            out.append(UInt8(ascii: "0"))
        } else {
            out.append(UnsafeRawBufferPointer(rebasing: bytes[start..<end]))
        }
    }
}
