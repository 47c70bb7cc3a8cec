// Wall and monotonic time straight from clock_gettime(2), plus the RFC 3339
// UTC rendering used for `received_at` and log timestamps.
//
// Named SystemClock, not Clock, to stay clear of the standard library's
// `Clock` protocol.

internal import Glibc

/// The system's clocks.
public enum SystemClock {
    /// Wall-clock time (CLOCK_REALTIME) in microseconds since 1970-01-01T00:00:00Z.
    /// It can jump (NTP, an operator); never use it to measure intervals.
    public static func nowMicroseconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1000
    }

    /// Monotonic time (CLOCK_MONOTONIC) in nanoseconds since an arbitrary start.
    /// Only differences are meaningful; use it for timeouts and latency.
    public static func monotonicNanoseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    /// RFC 3339 UTC with exactly six fractional digits, e.g.
    /// `2026-11-23T10:00:00.123456Z` (the record format's `received_at`).
    /// Pure arithmetic, so no locale or TZ setting can change it.
    public static func rfc3339(microseconds: Int64) -> String {
        let perDay: Int64 = 86_400 * 1_000_000
        // Floor division, so instants before 1970 land in the right day.
        var days = microseconds / perDay
        var rest = microseconds % perDay
        if rest < 0 {
            rest += perDay
            days -= 1
        }
        let (year, month, day) = civilDate(daysSinceEpoch: days)
        let second = rest / 1_000_000
        let fraction = rest % 1_000_000
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(second / 3600, 2)):"
            + "\(pad(second / 60 % 60, 2)):\(pad(second % 60, 2)).\(pad(fraction, 6))Z"
    }

    /// Proleptic Gregorian date for a day count since 1970-01-01 (Howard
    /// Hinnant's civil_from_days).
    static func civilDate(daysSinceEpoch: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = daysSinceEpoch + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    private static func pad(_ value: Int64, _ width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }
}
