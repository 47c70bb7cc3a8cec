/// Exponential backoff with full jitter: the n-th consecutive failure waits a uniformly
/// random time in [0, min(cap, initial · 2^n)]. Full jitter spreads the retries of many
/// relays after a server outage instead of bringing them back in waves.
struct Backoff {
    let initialMillis: Int
    let capMillis: Int
    private(set) var failures = 0

    init(initialMillis: Int, capMillis: Int) {
        self.initialMillis = initialMillis
        self.capMillis = capMillis
    }

    /// The upper bound of the next delay.
    var currentBoundMillis: Int {
        let shift = min(failures, 30)
        let (scaled, overflow) = initialMillis.multipliedReportingOverflow(by: 1 << shift)
        return overflow ? capMillis : min(capMillis, scaled)
    }

    /// Records a failure and returns how long to wait before the next attempt.
    mutating func nextDelayMillis<G: RandomNumberGenerator>(using generator: inout G) -> Int {
        let bound = currentBoundMillis
        failures += 1
        return Int.random(in: 0...bound, using: &generator)
    }

    mutating func nextDelayMillis() -> Int {
        var generator = SystemRandomNumberGenerator()
        return nextDelayMillis(using: &generator)
    }

    /// A success: the next failure starts from `initialMillis` again.
    mutating func reset() { failures = 0 }
}
