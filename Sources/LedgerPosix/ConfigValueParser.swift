// Strict parsers for the value kinds an option can take. Anything not in the
// documented grammar is rejected (nil), never guessed at: a mistyped `10XB`
// must stop the service at startup, not become 10 bytes.

/// A parsed option value.
enum ConfigValue: Hashable, Sendable {
    case string(String)
    case int(Int)
    case byteSize(Int)
    case duration(Duration)
    case flag(Bool)
}

/// Parsers for byte sizes, durations, booleans and integers.
public enum ConfigValueParser {
    /// Byte size: decimal digits, then an optional unit, no spaces or signs.
    ///
    /// | unit | bytes |
    /// |---|---|
    /// | (none), `B` | 1 |
    /// | `kB`, `KB`, `MB`, `GB`, `TB` | 1000^1...4 |
    /// | `K`, `M`, `G`, `T`, `KiB`, `MiB`, `GiB`, `TiB` | 1024^1...4 (the bare letters as in systemd) |
    ///
    /// Units are case-sensitive. nil for anything else, fractions, negative
    /// numbers or a result above `Int.max`.
    public static func byteSize(_ text: String) -> Int? {
        let (digits, unit) = splitNumber(Substring(text))
        guard let number = unsignedDecimal(digits), let multiplier = byteUnits[String(unit)] else { return nil }
        let (bytes, overflow) = number.multipliedReportingOverflow(by: multiplier)
        return overflow ? nil : bytes
    }

    private static let byteUnits: [String: Int] = [
        "": 1, "B": 1,
        "kB": 1_000, "KB": 1_000, "MB": 1_000_000, "GB": 1_000_000_000, "TB": 1_000_000_000_000,
        "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40,
        "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40,
    ]

    /// Duration: one or more `<digits><unit>` parts added together (`1h30m`),
    /// units `us`, `ms`, `s`, `m` or `min`, `h`, `d`, `w`; or bare digits
    /// meaning seconds (as systemd reads them). No spaces, signs or fractions.
    /// nil when malformed or above about 292,000 years.
    public static func duration(_ text: String) -> Duration? {
        if let seconds = unsignedDecimal(Substring(text)) {
            let (micros, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000)
            return overflow ? nil : .microseconds(Int64(micros))
        }
        var rest = Substring(text)
        var total = 0
        guard !rest.isEmpty else { return nil }
        while !rest.isEmpty {
            let (digits, afterDigits) = splitNumber(rest)
            guard let number = unsignedDecimal(digits) else { return nil }
            let unitText = afterDigits.prefix { !$0.isASCII || !$0.isNumber }
            guard let unit = durationUnits[String(unitText)] else { return nil }
            let (micros, overflow1) = number.multipliedReportingOverflow(by: unit)
            let (sum, overflow2) = total.addingReportingOverflow(micros)
            guard !overflow1, !overflow2 else { return nil }
            total = sum
            rest = afterDigits.dropFirst(unitText.count)
        }
        return .microseconds(Int64(total))
    }

    /// Microseconds per duration unit.
    private static let durationUnits: [String: Int] = [
        "us": 1, "ms": 1_000, "s": 1_000_000, "m": 60_000_000, "min": 60_000_000,
        "h": 3_600_000_000, "d": 86_400_000_000, "w": 604_800_000_000,
    ]

    /// Boolean: true/yes/on/1 or false/no/off/0, in any case.
    public static func bool(_ text: String) -> Bool? {
        switch text.lowercased() {
        case "true", "yes", "on", "1": return true
        case "false", "no", "off", "0": return false
        default: return nil
        }
    }

    /// Integer: decimal digits with an optional leading `-`; nil on overflow.
    public static func int(_ text: String) -> Int? {
        if text.hasPrefix("-") {
            let digits = text.dropFirst()
            guard !digits.isEmpty, digits.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
            return Int(text)
        }
        return unsignedDecimal(Substring(text))
    }

    /// Parses `text` as `kind`; nil when it does not fit the kind's grammar.
    static func parse(_ text: String, as kind: ConfigOption.Kind) -> ConfigValue? {
        switch kind {
        case .string: return .string(text)
        case .int: return int(text).map(ConfigValue.int)
        case .byteSize: return byteSize(text).map(ConfigValue.byteSize)
        case .duration: return duration(text).map(ConfigValue.duration)
        case .flag: return bool(text).map(ConfigValue.flag)
        }
    }

    /// Splits leading ASCII digits from the rest.
    private static func splitNumber(_ text: Substring) -> (Substring, Substring) {
        let digits = text.prefix { $0.isASCII && $0.isNumber }
        return (digits, text.dropFirst(digits.count))
    }

    /// Non-empty ASCII digits only (so no `+`, `-` or spaces), without overflow.
    private static func unsignedDecimal(_ text: Substring) -> Int? {
        guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        return Int(text)
    }
}
