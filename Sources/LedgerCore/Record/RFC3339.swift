// RFC 3339 date-times: strict validation of what writers send in `timestamp`,
// and the one form the ledger writes itself in `received_at`.

public enum RFC3339 {
    /// Validates `date-time` of RFC 3339 §5.6: `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`.
    /// `T`/`Z` may be lowercase (RFC 3339 §5.6 note); seconds may be 60 (leap second).
    /// Returns a reason when invalid.
    public static func problem(in text: UnsafeRawBufferPointer) -> String? {
        let n = text.count
        guard n >= 20 else { return "expected an RFC 3339 date-time such as 2026-02-17T10:30:00Z" }
        func digits(_ at: Int, _ count: Int) -> Int? {
            var value = 0
            for i in at..<at + count {
                let d = text[i] &- 48
                guard d < 10 else { return nil }
                value = value * 10 + Int(d)
            }
            return value
        }
        guard let year = digits(0, 4), text[4] == UInt8(ascii: "-"), let month = digits(5, 2),
              text[7] == UInt8(ascii: "-"), let day = digits(8, 2),
              text[10] | 0x20 == UInt8(ascii: "t"), let hour = digits(11, 2), text[13] == UInt8(ascii: ":"),
              let minute = digits(14, 2), text[16] == UInt8(ascii: ":"), let second = digits(17, 2) else {
            return "expected an RFC 3339 date-time such as 2026-02-17T10:30:00Z"
        }
        guard (1...12).contains(month) else { return "month \(month) is out of range" }
        guard (1...daysInMonth(year: year, month: month)).contains(day) else { return "day \(day) is out of range" }
        guard hour < 24, minute < 60, second <= 60 else { return "time of day is out of range" }
        var i = 19
        if text[i] == UInt8(ascii: ".") {
            i += 1
            let fractionStart = i
            while i < n, text[i] &- 48 < 10 { i += 1 }
            guard i > fractionStart else { return "expected digits after the decimal point" }
        }
        guard i < n else { return "a time zone offset (Z or ±HH:MM) is required" }
        if text[i] | 0x20 == UInt8(ascii: "z") {
            i += 1
        } else if text[i] == UInt8(ascii: "+") || text[i] == UInt8(ascii: "-") {
            guard n - i == 6, let offsetHours = digits(i + 1, 2), text[i + 3] == UInt8(ascii: ":"),
                  let offsetMinutes = digits(i + 4, 2) else { return "invalid time zone offset, expected ±HH:MM" }
            guard offsetHours < 24, offsetMinutes < 60 else { return "time zone offset out of range" }
            i += 6
        } else {
            return "a time zone offset (Z or ±HH:MM) is required"
        }
        return i == n ? nil : "unexpected characters after the date-time"
    }

    static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// The instants the four-digit year of RFC 3339 can name, in microseconds since the Unix
    /// epoch: 0000-01-01T00:00:00.000000Z through 9999-12-31T23:59:59.999999Z.
    public static let utcMicrosecondsRange: ClosedRange<Int64> = -62_167_219_200_000_000 ... 253_402_300_799_999_999

    /// Appends `YYYY-MM-DDTHH:MM:SS.ffffffZ` for microseconds since the Unix epoch (UTC),
    /// the form of `received_at`. Traps outside `utcMicrosecondsRange` (a clock there is a bug;
    /// a time from a client goes through `utcMicroseconds(ifRepresentable:)`): the year is
    /// never wrapped into four digits.
    public static func writeUTCMicroseconds(_ micros: Int64, into out: inout [UInt8]) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: utcMicrosecondsLength) { text in
            writeUTCMicroseconds(micros, to: text.baseAddress!)
            out.append(contentsOf: UnsafeBufferPointer(text))
        }
    }

    /// Length of the `received_at` form.
    static let utcMicrosecondsLength = 27

    /// Writes the 27 characters of `writeUTCMicroseconds` at `text`, with plain stores
    /// (appending digit by digit cost ~1,500 instructions per timestamp).
    static func writeUTCMicroseconds(_ micros: Int64, to text: UnsafeMutablePointer<UInt8>) {
        precondition(utcMicrosecondsRange.contains(micros),
                     "\(micros) µs since the epoch is outside the years 0000-9999 of an RFC 3339 timestamp")
        let seconds = micros >= 0 ? micros / 1_000_000 : (micros - 999_999) / 1_000_000
        let fraction = Int(micros - seconds * 1_000_000)
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = Int(seconds - days * 86_400)
        let (year, month, day) = civilFromDays(days)
        @inline(__always) func put(_ value: Int, _ width: Int, at offset: Int) {
            var v = value
            var i = offset + width - 1
            while i >= offset {
                text[i] = UInt8(truncatingIfNeeded: 48 + v % 10)
                v /= 10
                i -= 1
            }
        }
        put(year, 4, at: 0); text[4] = UInt8(ascii: "-")
        put(month, 2, at: 5); text[7] = UInt8(ascii: "-")
        put(day, 2, at: 8); text[10] = UInt8(ascii: "T")
        put(secondOfDay / 3600, 2, at: 11); text[13] = UInt8(ascii: ":")
        put(secondOfDay / 60 % 60, 2, at: 14); text[16] = UInt8(ascii: ":")
        put(secondOfDay % 60, 2, at: 17); text[19] = UInt8(ascii: ".")
        put(fraction, 6, at: 20); text[26] = UInt8(ascii: "Z")
    }

    /// `writeUTCMicroseconds` as a String; traps outside `utcMicrosecondsRange`.
    public static func utcMicroseconds(_ micros: Int64) -> String {
        var out: [UInt8] = []
        writeUTCMicroseconds(micros, into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// `utcMicroseconds`, or nil when the instant lies outside the years 0000-9999
    /// (`utcMicrosecondsRange`). For times that come from outside, e.g. a client's epoch number.
    public static func utcMicroseconds(ifRepresentable micros: Int64) -> String? {
        utcMicrosecondsRange.contains(micros) ? utcMicroseconds(micros) : nil
    }

    /// Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's algorithm).
    static func civilFromDays(_ days: Int64) -> (Int, Int, Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (Int(year), Int(month), Int(day))
    }

    /// Parses an RFC 3339 date-time into microseconds since the epoch (UTC), for range
    /// queries. Fractions beyond microseconds are truncated. Nil when invalid.
    public static func microseconds(_ text: String) -> Int64? {
        var text = text
        return text.withUTF8 { buffer -> Int64? in
            let raw = UnsafeRawBufferPointer(buffer)
            guard problem(in: raw) == nil else { return nil }
            return validatedMicroseconds(raw)
        }
    }

    /// `microseconds` of text that `problem(in:)` has already passed.
    public static func validatedMicroseconds(_ raw: UnsafeRawBufferPointer) -> Int64 {
        func num(_ at: Int, _ count: Int) -> Int64 {
            var v: Int64 = 0
            for i in at..<at + count { v = v * 10 + Int64(raw[i] - 48) }
            return v
        }
        let days = daysFromCivil(Int(num(0, 4)), Int(num(5, 2)), Int(num(8, 2)))
        var micros = (days * 86_400 + num(11, 2) * 3600 + num(14, 2) * 60 + num(17, 2)) * 1_000_000
        var i = 19
        if raw[i] == UInt8(ascii: ".") {
            i += 1
            var scale: Int64 = 100_000
            while i < raw.count, raw[i] &- 48 < 10 {
                micros += Int64(raw[i] - 48) * scale
                scale /= 10
                i += 1
            }
        }
        if raw[i] == UInt8(ascii: "+") || raw[i] == UInt8(ascii: "-") {
            let offset = (num(i + 1, 2) * 60 + num(i + 4, 2)) * 60_000_000
            micros += raw[i] == UInt8(ascii: "+") ? -offset : offset
        }
        return micros
    }

    static func daysFromCivil(_ year: Int, _ month: Int, _ day: Int) -> Int64 {
        let y = Int64(month <= 2 ? year - 1 : year)
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let m = Int64(month)
        let dayOfYear = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + Int64(day) - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}
