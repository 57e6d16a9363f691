import FugitiveWire

/// How many origin fetches vouching may start: per requesting peer (in flight, and per
/// minute) and in total (in flight, and per minute). A vouch answered from the cache, the
/// cluster's registry or a fetch already under way costs nothing here. I/O-free; the
/// ``DigestVoucher`` actor owns it.
struct VouchLimits: Sendable {
    let perPeerInFlight: Int
    let totalInFlight: Int
    private var perPeerBuckets: [PeerID: RateLimiter] = [:]
    private var inFlightByPeer: [PeerID: Int] = [:]
    private var inFlight = 0
    private var total: RateLimiter
    private let perPeerPerMinute: Double

    init(configuration: VouchConfiguration, now: ContinuousClock.Instant) {
        perPeerInFlight = configuration.fetchesInFlightPerPeer
        totalInFlight = configuration.fetchesInFlight
        perPeerPerMinute = Double(configuration.fetchesPerMinutePerPeer)
        total = RateLimiter(rate: Double(configuration.fetchesPerMinute) / 60, burst: Double(max(1, configuration.fetchesPerMinute / 4)), now: now)
    }

    /// Takes a place for one origin fetch for `peer`; throws `rate-limited` when a bound is reached.
    mutating func admit(_ peer: PeerID?, now: ContinuousClock.Instant) throws(WireError) {
        guard inFlight < totalInFlight else {
            throw WireError(.rateLimited, "the server is already fetching \(totalInFlight) resources to vouch for; ask again later")
        }
        if let peer {
            guard inFlightByPeer[peer, default: 0] < perPeerInFlight else {
                throw WireError(.rateLimited, "\(perPeerInFlight) vouches of yours are already being fetched")
            }
            if perPeerBuckets.count > 10_000 { perPeerBuckets = perPeerBuckets.filter { inFlightByPeer[$0.key] != nil } }
            var bucket = perPeerBuckets[peer] ?? RateLimiter(rate: perPeerPerMinute / 60, burst: max(1, perPeerPerMinute / 4), now: now)
            defer { perPeerBuckets[peer] = bucket }
            guard bucket.take(now: now) else {
                throw WireError(.rateLimited, "more than \(Int(perPeerPerMinute)) vouches per minute that need an origin fetch")
            }
        }
        guard total.take(now: now) else {
            throw WireError(.rateLimited, "the server's origin fetches for vouching are at their limit; ask again later")
        }
        inFlight += 1
        if let peer { inFlightByPeer[peer, default: 0] += 1 }
    }

    /// Gives back the place ``admit(_:now:)`` took.
    mutating func finish(_ peer: PeerID?) {
        inFlight -= 1
        guard let peer else { return }
        inFlightByPeer[peer, default: 1] -= 1
        if inFlightByPeer[peer] == 0 { inFlightByPeer[peer] = nil }
    }
}
