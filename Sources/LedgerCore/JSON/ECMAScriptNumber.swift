// TEMPORARY STUB (untracked): replaced by the number branch.
public enum ECMAScriptNumber {
    public static func write(_ value: Double, into out: inout [UInt8]) {
        if value == 0 { out.append(48); return }
        out.append(contentsOf: Array("\(value)".utf8))
    }
    public static func exactDouble(_ literal: UnsafeRawBufferPointer) -> Double? {
        Double(String(decoding: literal, as: UTF8.self))
    }
}
