// RFC 8785 (JSON Canonicalization Scheme) output from a parsed tape.
//
// Members come out in the order the parser already sorted them (UTF-16 code
// units), numbers in ECMAScript form, strings with minimal escaping, and no
// whitespace. Proven by Tests/LedgerCoreTests/CanonicalJSONTests.swift (the
// RFC's own examples, golden vectors and random round trips).

public enum CanonicalJSON {
    /// Appends the canonical form of the value at `index` (and its subtree).
    public static func write(_ tape: JSONTape, _ index: Int, bytes: UnsafeRawBufferPointer, into out: inout [UInt8]) {
        // SAFETY: the tape's arrays are not mutated while these buffers are in use.
        tape.nodes.withUnsafeBufferPointer { nodes in
            tape.sortedMembers.withUnsafeBufferPointer { members in
                tape.numbers.withUnsafeBufferPointer { numbers in
                    let view = TapeView(nodes: nodes, members: members, numbers: numbers, bytes: bytes)
                    view.write(index, into: &out)
                }
            }
        }
    }

    /// Unsafe views of a tape's arrays: the recursive writer then does no reference
    /// counting and no copy-on-write checks per value.
    struct TapeView {
        let nodes: UnsafeBufferPointer<JSONNode>
        let members: UnsafeBufferPointer<UInt32>
        let numbers: UnsafeBufferPointer<Double>
        let bytes: UnsafeRawBufferPointer

        func write(_ index: Int, into out: inout [UInt8]) {
            let node = nodes[index]
            switch node.kind {
            case .null: appendLiteral("null", into: &out)
            case .true: appendLiteral("true", into: &out)
            case .false: appendLiteral("false", into: &out)
            case .number:
                if node.isSimpleInteger {
                    writeSimpleInteger(node, bytes: bytes, into: &out)
                } else {
                    ECMAScriptNumber.write(numbers[Int(node.aux)], into: &out)
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
    static func writeString(_ node: JSONNode, bytes: UnsafeRawBufferPointer, into out: inout [UInt8]) {
        let raw = UnsafeRawBufferPointer(rebasing: bytes[Int(node.start)..<Int(node.end)])
        if !node.hasEscapes {
            // Without escapes the raw content is already canonical: the parser refused raw
            // control characters, and '"' and '\\' cannot appear unescaped.
            out.append(UInt8(ascii: "\""))
            out.append(contentsOf: raw)
            out.append(UInt8(ascii: "\""))
            return
        }
        var decoded: [UInt8] = []
        decoded.reserveCapacity(raw.count)
        JSONEscapes.decode(bytes, from: Int(node.start), to: Int(node.end), into: &decoded)
        JSONEscapes.writeCanonicalString(decoded, into: &out)
    }

    @inline(__always)
    static func writeSimpleInteger(_ node: JSONNode, bytes: UnsafeRawBufferPointer, into out: inout [UInt8]) {
        let start = Int(node.start), end = Int(node.end)
        // "-0" is the only simple integer whose canonical form differs from its literal.
        if end - start == 2, bytes[start] == UInt8(ascii: "-"), bytes[start + 1] == UInt8(ascii: "0") {
            out.append(UInt8(ascii: "0"))
        } else {
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[start..<end]))
        }
    }

    @inline(__always)
    static func appendLiteral(_ word: StaticString, into out: inout [UInt8]) {
        out.append(contentsOf: UnsafeRawBufferPointer(start: word.utf8Start, count: word.utf8CodeUnitCount))
    }
}
