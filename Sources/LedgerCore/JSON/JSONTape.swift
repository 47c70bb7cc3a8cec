#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// The parsed form of one JSON document: a flat array of nodes (a "tape") that
// points back into the input bytes instead of copying them.
//
// Why a tape: the hot path parses an event, validates a handful of top-level
// fields and writes the canonical form. A tree of enums and Strings would
// allocate per value; the tape allocates nothing once its arrays have grown to
// the working size, and escape-free strings (nearly all of them) are copied to
// the canonical output byte for byte.
//
// A tape is only meaningful together with the bytes it was parsed from; every
// accessor takes those bytes again. Callers keep one tape per thread and reuse it.

/// The JSON value kinds, in the order they appear on the tape.
public enum JSONKind: UInt8, Sendable {
    case null, `false`, `true`, number, string, array, object
}

/// One value on the tape.
///
/// Layout (frozen only in memory, never written anywhere):
/// - `start`/`end`: byte offsets into the input. Strings: the content between
///   the quotes. Numbers: the literal. Containers: `[`/`{` to just past `]`/`}`.
/// - `next`: index of the node that follows this value's whole subtree, so a
///   reader skips a member in O(1).
/// - `count`: elements of an array, members of an object. Strings: the high half
///   of the ordering prefix (first eight raw bytes, big-endian, zero-padded).
/// - `aux`: objects: offset into `JSONTape.sortedMembers`; numbers: index into
///   `JSONTape.numbers` (unused for simple integers); strings: the prefix's low half.
public struct JSONNode: Sendable {
    public var kind: JSONKind
    /// Strings: `hasEscapes`. Numbers: `simpleInteger`.
    public var flags: UInt8
    public var start: UInt32
    public var end: UInt32
    public var next: UInt32
    public var count: UInt32
    public var aux: UInt32

    public static let hasEscapes: UInt8 = 1
    /// An integer literal of at most 15 digits: exactly representable, and its
    /// canonical form is the literal itself (but for `-0`).
    public static let simpleInteger: UInt8 = 2

    @inline(__always) public var hasEscapes: Bool { flags & Self.hasEscapes != 0 }
    @inline(__always) public var isSimpleInteger: Bool { flags & Self.simpleInteger != 0 }
}

/// Limits applied while parsing. FORMAT.md §1: nesting deeper than 64 is rejected.
public struct JSONLimits: Sendable {
    public var maxDepth: Int
    public init(maxDepth: Int = 64) { self.maxDepth = maxDepth }
    public static let `default` = JSONLimits()
}

public struct JSONTape: Sendable {
    /// The nodes live in raw memory that the parser appends to with plain stores
    /// (`[JSONNode].append` cost ~40 instructions per node in uniqueness and capacity
    /// checks). `nodeStore` is replaced, never written, when another tape shares it.
    var nodeStore = TapeBuffer<JSONNode>(capacity: 32)
    var nodeCount = 0
    /// For each object, the node indices of its member names sorted in RFC 8785
    /// order (UTF-16 code units). A member's value is the node right after its name.
    public internal(set) var sortedMembers: [UInt32] = []
    /// Values of numbers that are not simple integers.
    public internal(set) var numbers: [Double] = []
    /// The parser's stack of open objects' member names, kept here so that its
    /// capacity is reused from one document to the next.
    var pendingStore = TapeBuffer<UInt32>(capacity: 32)

    public init() {}

    /// Every value of the document in document order; `nodes[0]` is the root.
    /// A copy: hot paths use the subscript.
    public var nodes: [JSONNode] { Array(UnsafeBufferPointer(start: nodeStore.base, count: nodeCount)) }

    public var root: JSONNode { self[0] }

    @inline(__always) public subscript(index: Int) -> JSONNode {
        precondition(UInt(bitPattern: index) < UInt(bitPattern: nodeCount), "JSONTape node index out of range")
        return nodeStore.base[index]
    }

    /// Calls `body` with unsafe views of the nodes, sorted members and numbers.
    func withUnsafeStorage<R>(_ body: (UnsafeBufferPointer<JSONNode>, UnsafeBufferPointer<UInt32>,
                                       UnsafeBufferPointer<Double>) -> R) -> R {
        // SAFETY: nothing mutates the tape during `body`; the views must not escape.
        let nodes = UnsafeBufferPointer(start: nodeStore.base, count: nodeCount)
        return sortedMembers.withUnsafeBufferPointer { members in
            numbers.withUnsafeBufferPointer { numbers in body(nodes, members, numbers) }
        }
    }

    /// Name-node indices of an object's members, in canonical order.
    @inline(__always)
    public func members(of objectIndex: Int) -> ArraySlice<UInt32> {
        let node = self[objectIndex]
        let start = Int(node.aux)
        return sortedMembers[start..<start + Int(node.count)]
    }

    /// Node indices of an array's elements, in order.
    public func elements(of arrayIndex: Int) -> [Int] {
        var result: [Int] = []
        result.reserveCapacity(Int(self[arrayIndex].count))
        var child = arrayIndex + 1
        for _ in 0..<self[arrayIndex].count {
            result.append(child)
            child = Int(self[child].next)
        }
        return result
    }

    /// The index of the value of member `name` (ASCII, escape-free) in the object at
    /// `objectIndex`, or nil. Linear: objects on the hot path are small.
    public func value(of name: StaticString, in objectIndex: Int, bytes: UnsafeRawBufferPointer) -> Int? {
        let wanted = UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount)
        for nameIndex in members(of: objectIndex) {
            let key = self[Int(nameIndex)]
            if !key.hasEscapes, JSONBytes.equal(bytes, Int(key.start), Int(key.end), wanted) {
                return Int(nameIndex) + 1
            }
        }
        return nil
    }

    /// The decoded UTF-8 bytes of a string node.
    public func stringBytes(_ index: Int, bytes: UnsafeRawBufferPointer) -> [UInt8] {
        let node = self[index]
        precondition(node.kind == .string)
        if !node.hasEscapes { return Array(bytes[Int(node.start)..<Int(node.end)]) }
        var out: [UInt8] = []
        JSONEscapes.decode(bytes, from: Int(node.start), to: Int(node.end), into: &out)
        return out
    }

    /// The decoded string value of a string node.
    public func string(_ index: Int, bytes: UnsafeRawBufferPointer) -> String {
        let node = self[index]
        // Escape-free (nearly all): straight from the input, without an intermediate array.
        if node.kind == .string, !node.hasEscapes {
            return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[Int(node.start)..<Int(node.end)]), as: UTF8.self)
        }
        return String(decoding: stringBytes(index, bytes: bytes), as: UTF8.self)
    }

    /// The value of a number node.
    public func double(_ index: Int, bytes: UnsafeRawBufferPointer) -> Double {
        let node = self[index]
        precondition(node.kind == .number)
        if node.isSimpleInteger {
            return Double(JSONBytes.parseSimpleInteger(bytes, Int(node.start), Int(node.end)))
        }
        return numbers[Int(node.aux)]
    }

    /// The value of a number node when it is an integer (any JSON spelling, e.g. `1e3`,
    /// `5.0`) within ±(2^53-1), else nil.
    public func exactInteger(_ index: Int, bytes: UnsafeRawBufferPointer) -> Int64? {
        let node = self[index]
        guard node.kind == .number else { return nil }
        if node.isSimpleInteger { return JSONBytes.parseSimpleInteger(bytes, Int(node.start), Int(node.end)) }
        let value = numbers[Int(node.aux)]
        guard value == value.rounded(.towardZero), abs(value) <= 9_007_199_254_740_991 else { return nil }
        return Int64(value)
    }

    mutating func reset() {
        nodeCount = 0
        sortedMembers.removeAll(keepingCapacity: true)
        numbers.removeAll(keepingCapacity: true)
    }
}

/// Fixed-capacity raw storage for trivial elements, owned by one tape at a time.
/// Growing means allocating a bigger one, so `base` and `capacity` never change and
/// reading them needs no exclusivity check.
final class TapeBuffer<Element>: @unchecked Sendable {
    // @unchecked: the memory is written only by JSONTape.parse while the tape holds the
    // only reference (parse replaces a shared buffer first); after that it is read-only.
    let base: UnsafeMutablePointer<Element>
    let capacity: Int

    init(capacity: Int) {
        self.capacity = max(capacity, 1)
        base = .allocate(capacity: self.capacity)
    }

    deinit { base.deallocate() }  // elements are trivial: nothing to deinitialize
}

/// Byte-level helpers shared by the parser, the writer and record validation.
public enum JSONBytes {
    @inline(__always)
    public static func equal(_ bytes: UnsafeRawBufferPointer, _ start: Int, _ end: Int, _ other: UnsafeRawBufferPointer) -> Bool {
        let length = end - start
        guard length == other.count else { return false }
        if length == 0 { return true }
        // SAFETY: start..<end lies inside `bytes` (set by the parser), other has `length` bytes.
        return memcmp(bytes.baseAddress! + start, other.baseAddress!, length) == 0
    }

    /// Parses `-?[0-9]{1,15}`; the parser has checked the grammar.
    @inline(__always)
    public static func parseSimpleInteger(_ bytes: UnsafeRawBufferPointer, _ start: Int, _ end: Int) -> Int64 {
        var i = start
        var negative = false
        if bytes[i] == UInt8(ascii: "-") { negative = true; i += 1 }
        var value: Int64 = 0
        while i < end {
            value = value &* 10 &+ Int64(bytes[i] &- 48)
            i += 1
        }
        return negative ? -value : value
    }
}
