import Testing
@testable import LedgerPosix

@Suite struct ClockTests {
    @Test(arguments: [
        (Int64(0), "1970-01-01T00:00:00.000000Z"),
        (1_795_428_000_123_456, "2026-11-23T10:00:00.123456Z"),
        (1_709_251_199_999_999, "2024-02-29T23:59:59.999999Z"),
        (951_868_800_000_000, "2000-03-01T00:00:00.000000Z"),
        (4_102_444_800_000_001, "2100-01-01T00:00:00.000001Z"),
        (-1, "1969-12-31T23:59:59.999999Z"),
    ])
    func rfc3339_rendering(microseconds: Int64, text: String) {
        #expect(SystemClock.rfc3339(microseconds: microseconds) == text)
    }

    @Test func wall_clock_is_plausible_and_monotonic_clock_advances() {
        let now = SystemClock.nowMicroseconds()
        #expect(now > 1_704_067_200_000_000)  // after 2024-01-01
        let a = SystemClock.monotonicNanoseconds()
        let b = SystemClock.monotonicNanoseconds()
        #expect(b >= a)
    }
}
