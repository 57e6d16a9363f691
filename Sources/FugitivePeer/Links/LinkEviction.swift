import FugitiveWire

/// Which open link to replace, if any: the rule ``LinkManager`` applies each maintenance
/// round, apart from its state so that it can be tested without links.
///
/// Only when the links are at least at target (so that asking for a replacement keeps the
/// count), and one per round: a failing link first (``maxFailures`` consecutive failed
/// transfers, or a peer benched for crawling), then the slowest link when its round trip
/// is over ``slowFloor`` and over ``slowFactor`` times the median of at least three.
/// After a look for a nearer peer (``LinkExploration``), ``farthestBeyondTarget(among:)``
/// says which link to let go.
struct LinkEviction: Sendable {
    /// What the rule looks at for one open link.
    struct Candidate: Sendable {
        var peer: PeerID
        var failures: Int
        var benched: Bool
        var roundTrip: Duration?
        /// No transfer under way on it (only an idle link is let go for being far).
        var idle = true
    }

    var targetLinks: Int
    var maxFailures: Int
    var slowFactor: Double
    /// Round trips under this are never "slow", whatever the median (loopback's 0.2 ms
    /// against 0.05 ms is no reason to drop a link).
    var slowFloor: Duration = .milliseconds(100)
    /// Over target, links nearer than this all stay (on one LAN or one city, a few
    /// milliseconds more are no reason to churn).
    var nearFloor: Duration = LinkExploration.nearFloor
    var nearFactor: Double = 1.5

    /// The link to replace, or `nil`.
    func victim(among open: [Candidate]) -> PeerID? {
        guard open.count >= targetLinks else { return nil }
        if let failing = open.first(where: { $0.failures >= maxFailures || $0.benched }) { return failing.peer }
        let times = open.compactMap(\.roundTrip).sorted()
        guard times.count >= 3 else { return nil }
        let median = times[times.count / 2]
        guard let slowest = open.max(by: { ($0.roundTrip ?? .zero) < ($1.roundTrip ?? .zero) }), let rtt = slowest.roundTrip,
            rtt > slowFloor, rtt > median * slowFactor
        else { return nil }
        return slowest.peer
    }

    /// Over target, the farthest idle link when its round trip is over ``nearFloor`` and
    /// over ``nearFactor`` times the nearest's; `nil` otherwise. Asked only after an
    /// exploration brought a link more: a peer does not shed the links others made to it.
    func farthestBeyondTarget(among open: [Candidate]) -> PeerID? {
        guard open.count > targetLinks, let nearest = open.compactMap(\.roundTrip).min(),
            let farthest = open.filter({ $0.idle && $0.roundTrip != nil }).max(by: { $0.roundTrip! < $1.roundTrip! }),
            let rtt = farthest.roundTrip, rtt > nearFloor, rtt > nearest * nearFactor
        else { return nil }
        return farthest.peer
    }
}

/// When a peer at or over its target asks the server for one partner more, to find a
/// nearer one: the server ranks partners by measured and predicted round trips, and
/// ``LinkEviction`` then lets the farthest idle link go. Only while the farthest of its
/// `target` nearest links is over ``nearFloor`` (a peer with enough near links never
/// explores, whatever far peers linked to it), with every link measured and a slot free;
/// the interval doubles after each try, up to ``longestInterval``, and starts over once
/// enough links are near.
struct LinkExploration: Sendable {
    static let nearFloor: Duration = .milliseconds(20)
    static let firstInterval: Duration = .seconds(10)
    static let longestInterval: Duration = .seconds(300)

    /// When the last exploration went out, and how long until the next may.
    var last: ContinuousClock.Instant?
    var interval: Duration = Self.firstInterval
    /// The last exploration may still let its farthest link go (once, within ``trimWindow``).
    var mayTrim = false
    static let trimWindow: Duration = .seconds(30)

    /// Whether the farthest link may go now (an exploration lately, none let go since).
    func trimAllowed(now: ContinuousClock.Instant) -> Bool {
        guard mayTrim, let last else { return false }
        return now - last < Self.trimWindow
    }

    /// Whether to ask for one partner more now; records the try when so.
    mutating func shouldExplore(roundTrips: [Duration?], entries: Int, targetLinks: Int, maxLinks: Int, now: ContinuousClock.Instant) -> Bool {
        guard targetLinks > 0, roundTrips.count >= targetLinks, entries == roundTrips.count, entries < maxLinks else { return false }
        let measured = roundTrips.compactMap { $0 }
        guard measured.count == roundTrips.count, let farthest = measured.sorted().prefix(targetLinks).last else { return false }
        guard farthest > Self.nearFloor else {
            interval = Self.firstInterval
            return false
        }
        if let last, now - last < interval { return false }
        if last != nil { interval = min(interval * 2, Self.longestInterval) }
        last = now
        mayTrim = true
        return true
    }
}
