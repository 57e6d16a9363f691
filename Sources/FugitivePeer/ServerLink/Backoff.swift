/// Jittered exponential back-off for reconnecting: the n-th wait is drawn from
/// [d/2, d] with d = min(cap, base · 2ⁿ) ("equal jitter"), so that peers that lost the
/// same server do not come back in lockstep, yet none retries sooner than half the step.
public struct Backoff: Sendable {
    public let base: Duration
    public let cap: Duration
    /// Consecutive failures so far.
    public private(set) var attempt = 0

    public init(base: Duration = .milliseconds(500), cap: Duration = .seconds(30)) {
        precondition(base > .zero && cap >= base, "back-off needs 0 < base ≤ cap")
        self.base = base
        self.cap = cap
    }

    /// The upper bound of the next wait, before jitter.
    public var ceiling: Duration {
        // 2⁶³ overflows long before any sensible cap: stop doubling at the cap.
        var step = base
        for _ in 0..<attempt {
            guard step < cap else { break }
            step *= 2
        }
        return min(step, cap)
    }

    /// The next wait; counts one more failure.
    public mutating func next<G: RandomNumberGenerator>(using generator: inout G) -> Duration {
        let ceiling = self.ceiling
        attempt += 1
        let half = ceiling / 2
        let jitter = Double.random(in: 0...1, using: &generator)
        return half + half * jitter
    }

    public mutating func next() -> Duration {
        var generator = SystemRandomNumberGenerator()
        return next(using: &generator)
    }

    /// A success: the next failure starts from `base` again.
    public mutating func reset() { attempt = 0 }
}
