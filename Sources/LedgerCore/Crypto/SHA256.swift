// TEMPORARY STUB (untracked)
internal import CCrypto
public struct SHA256Digest: Hashable, Sendable {
    var b: [UInt8]
    public static let zero = SHA256Digest(b: [UInt8](repeating: 0, count: 32))
    public init?(hex: some Collection<UInt8>) {
        guard hex.count == 64 else { return nil }
        var out: [UInt8] = []; var cur: UInt8 = 0; var n = 0
        for c in hex { let v: UInt8; switch c { case 48...57: v = c-48; case 97...102: v = c-87; default: return nil }
            cur = cur<<4 | v; n += 1; if n % 2 == 0 { out.append(cur); cur = 0 } }
        b = out
    }
    init(b: [UInt8]) { self.b = b }
    public func appendHex(to out: inout [UInt8]) { let h = Array("0123456789abcdef".utf8); for x in b { out.append(h[Int(x>>4)]); out.append(h[Int(x&15)]) } }
    public var hex: String { var o: [UInt8] = []; appendHex(to: &o); return String(decoding: o, as: UTF8.self) }
}
public final class SHA256Hasher {
    var acc: [UInt8] = []
    public init() {}
    public func hash(_ bytes: UnsafeRawBufferPointer) -> SHA256Digest { reset(); update(bytes); return finalize() }
    public func reset() { acc = [] }
    public func update(_ bytes: UnsafeRawBufferPointer) { acc.append(contentsOf: bytes) }
    public func finalize() -> SHA256Digest { var md = [UInt8](repeating: 0, count: 32); var len: UInt32 = 0
        acc.withUnsafeBytes { p in _ = EVP_Digest(p.baseAddress, p.count, &md, &len, EVP_sha256(), nil) }; return SHA256Digest(b: md) }
}
public enum SHA256 { public static func hash(_ b: [UInt8]) -> SHA256Digest { b.withUnsafeBytes { SHA256Hasher().hash($0) } } }
