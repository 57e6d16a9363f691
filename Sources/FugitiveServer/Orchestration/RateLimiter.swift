/// A token bucket: `rate` tokens per second, holding at most `burst`. I/O-free; the
/// caller passes the time.
struct RateLimiter: Sendable {
    let rate: Double
    let burst: Double
    private var tokens: Double
    private var last: ContinuousClock.Instant

    init(rate: Double, burst: Double, now: ContinuousClock.Instant) {
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.last = now
    }

    /// Takes one token; false when none is left.
    mutating func take(now: ContinuousClock.Instant) -> Bool {
        let elapsed = now - last
        last = now
        tokens = min(burst, tokens + elapsed.seconds * rate)
        guard tokens >= 1 else { return false }
        tokens -= 1
        return true
    }
}
