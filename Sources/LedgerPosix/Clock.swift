// Wall and monotonic time straight from clock_gettime(2), plus the RFC 3339
// UTC rendering used for `received_at` and log timestamps.
//
// Named SystemClock, not Clock, to stay clear of the standard library's
// `Clock` protocol.

internal import Glibc
import LedgerCore

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
        // One implementation of the format, the one records use (FORMAT.md §2 received_at).
        RFC3339.utcMicroseconds(microseconds)
    }
}
