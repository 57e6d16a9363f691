import Synchronization

/// How a download is moving, for its watchdog: a transfer fails when nothing arrives for
/// the stall timeout, and — once it has had `grace` to get going — when it averages under
/// the least rate accepted or at a pace that cannot finish by its deadline. A peer that
/// drips one chunk just inside the stall timeout is caught by the rate, not the deadline.
final class TransferWatch: Sendable {
    struct Limits: Sendable {
        var stallTimeout: Duration
        /// Bytes per second a transfer must average after `grace`.
        var minimumRate: Int
        var grace: Duration
        /// When the transfer must be complete (the fetch keeps the rest for the origin).
        var deadline: ContinuousClock.Instant?
    }

    private struct State {
        var lastProgress = ContinuousClock.now
        var headAt: ContinuousClock.Instant?
        var total = 0
        var received = 0
    }

    let limits: Limits
    private let state = Mutex(State())

    init(_ limits: Limits) { self.limits = limits }

    func touch() { state.withLock { $0.lastProgress = .now } }

    func headArrived(transferLength: Int) {
        state.withLock {
            $0.headAt = .now
            $0.total = transferLength
            $0.lastProgress = .now
        }
    }

    func received(_ count: Int) {
        state.withLock {
            $0.received += count
            $0.lastProgress = .now
        }
    }

    /// Why the transfer must stop now, or `nil` while it may go on.
    func verdict(now: ContinuousClock.Instant = .now) -> PeerLinkError? {
        let state = state.withLock { $0 }
        if now - state.lastProgress > limits.stallTimeout {
            return PeerLinkError(.stalled, "nothing arrived for \(limits.stallTimeout)")
        }
        if let deadline = limits.deadline, now >= deadline {
            return PeerLinkError(.tooSlow, "\(state.received) of \(state.total) bytes when the time for peers ran out")
        }
        guard let headAt = state.headAt, now - headAt >= limits.grace else { return nil }
        let seconds = (now - headAt).seconds
        let rate = Double(state.received) / seconds
        if rate < Double(limits.minimumRate) {
            return PeerLinkError(.tooSlow, "\(Int(rate)) bytes/s, the least accepted is \(limits.minimumRate)")
        }
        if let deadline = limits.deadline {
            let needed = Double(state.total - state.received) / rate
            if needed > (deadline - now).seconds {
                return PeerLinkError(.tooSlow, "at \(Int(rate)) bytes/s the rest needs \(Int(needed)) s, the deadline is sooner")
            }
        }
        return nil
    }
}
