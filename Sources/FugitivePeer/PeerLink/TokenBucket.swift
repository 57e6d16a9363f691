import Synchronization

/// A rate limit in bytes per second, shared by every transfer it is given to: a taker
/// that would overdraw the bucket sleeps until enough tokens have accrued.
public final class TokenBucket: Sendable {
    /// Bytes per second.
    public let rate: Int
    /// The most bytes that may go at once after an idle spell.
    public let burst: Int
    private let state: Mutex<(tokens: Double, refilled: ContinuousClock.Instant)>

    public init(bytesPerSecond rate: Int, burst: Int? = nil) {
        precondition(rate > 0, "a rate limit must be positive")
        self.rate = rate
        self.burst = max(burst ?? rate / 4, 16_384)
        state = Mutex((Double(self.burst), .now))
    }

    /// Takes `count` tokens, waiting as long as the rate requires. Tokens are reserved
    /// before the wait, so concurrent takers queue fairly instead of all waking at once.
    public func take(_ count: Int) async throws {
        let wait: Double = state.withLock { state in
            let now = ContinuousClock.now
            state.tokens = min(Double(burst), state.tokens + (now - state.refilled).seconds * Double(rate))
            state.refilled = now
            state.tokens -= Double(count)
            return state.tokens >= 0 ? 0 : -state.tokens / Double(rate)
        }
        if wait > 0 { try await Task.sleep(for: .milliseconds(Int(wait * 1000) + 1)) }
    }
}
