import FugitiveRTC
import FugitiveStore
import FugitiveWire
import Logging
import Synchronization

/// Keeps the peer's WebRTC links: takes the partners the server pairs it with (making or
/// answering the offer through the server's relay), asks for more whenever it is below
/// its target, measures each link's round trip and reports it, and drops links that are
/// lying, failing or much slower than the rest when others can take their place.
final class LinkManager: Sendable {
    struct Configuration: Sendable {
        var targetLinks: Int
        var maxLinks: Int
        /// How long a new pair may take from `pair` to an open channel.
        var connectTimeout: Duration
        /// How often the manager re-checks its links (want, RTT, eviction).
        var maintenanceInterval: Duration
        /// A `want` the server could not satisfy is not answered: ask again after this.
        var wantInterval: Duration
        /// Round trips are measured (and reported) this often.
        var rttInterval: Duration
        /// Consecutive failed transfers after which a link is replaced.
        var maxFailures: Int
        /// A link this many times slower than the median (and over 100 ms) is replaced.
        var slowFactor: Double
        /// Base WebRTC settings (local addresses, ports); ICE servers come from the server.
        var connection: PeerConnection.Configuration
        var peerLink: PeerLink.Configuration
    }

    struct Entry {
        let connection: PeerConnection
        let offerer: Bool
        /// Finished once this side's offer or answer went out: candidates wait for it (a
        /// browser refuses a candidate that arrives before the description).
        let described: AsyncStream<Void>.Continuation
        var link: PeerLink?
        var roundTrip: Duration?
        var failures = 0
        var task: Task<Void, Never>?

        /// Ends everything the entry holds: signalling, channel, connection, its task.
        func close() {
            described.finish()
            link?.close()
            connection.close()
            task?.cancel()
        }
    }

    struct State {
        var me: PeerID?
        /// The welcome's ICE servers, resolved (see ``resolveIceServers(_:)``).
        var iceServers = ResolvedIceServers()
        /// Which welcome `iceServers` comes from: a slow lookup for an older one is dropped.
        var iceGeneration = 0
        /// The latest ICE servers are being resolved: pairs wait in `pairsWaitingForIce`.
        var iceResolving = false
        var pairsWaitingForIce: [Pair] = []
        /// The ICE servers as the server named them, and when they were last resolved:
        /// resolved again when links fail (``iceServersMayHaveMoved()``).
        var iceServerList: [ICEServer] = []
        var iceResolvedAt: ContinuousClock.Instant?

        mutating func takePairsWaitingForIce() -> [Pair] {
            iceResolving = false
            defer { pairsWaitingForIce = [] }
            return pairsWaitingForIce
        }
        var entries: [PeerID: Entry] = [:]
        var lastWant: ContinuousClock.Instant?
        /// Peers that sent bad bytes for a resource: never asked for it again.
        var liars: [ResourceDigest: Set<PeerID>] = [:]
        /// Peers too slow lately, until when: not asked, linked or kept meanwhile (kept
        /// apart from the links, so that dropping the link does not forgive them).
        var benched: [PeerID: ContinuousClock.Instant] = [:]

        func isBenched(_ peer: PeerID, at now: ContinuousClock.Instant) -> Bool { benched[peer].map { $0 > now } ?? false }
        /// What fetches wanted lately: the server prefers partners holding these.
        var recentlyWanted: [ResourceDigest] = []
        /// Looking for nearer partners than the farthest link (``LinkExploration``).
        var exploration = LinkExploration()
    }

    let configuration: Configuration
    let server: ServerLink
    /// Where the server's answers to queries go (the fetch pipeline asks them).
    let queries: ServerQueries
    let store: ResourceStore
    let slots: UploadSlots
    let loop: GLibEventLoop
    let logger: Logger
    let emit: @Sendable (PeerEvent) -> Void
    let uploadFault: UploadFault
    let state = Mutex(State())

    init(
        configuration: Configuration, queries: ServerQueries, store: ResourceStore, slots: UploadSlots, loop: GLibEventLoop, logger: Logger,
        uploadFault: UploadFault = .none, emit: @escaping @Sendable (PeerEvent) -> Void
    ) {
        self.configuration = configuration
        self.server = queries.server
        self.queries = queries
        self.store = store
        self.slots = slots
        self.loop = loop
        self.logger = logger
        self.uploadFault = uploadFault
        self.emit = emit
    }

    /// Follows the server link's events and maintains the links until cancelled.
    func run() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await event in self.server.events { self.handle(event) }
            }
            group.addTask {
                var lastRoundTrips = ContinuousClock.now
                while !Task.isCancelled {
                    try? await Task.sleep(for: self.configuration.maintenanceInterval)
                    self.evictOne()
                    self.checkTarget()
                    self.exploreForNearerPeers()
                    if ContinuousClock.now - lastRoundTrips >= self.configuration.rttInterval {
                        lastRoundTrips = .now
                        await self.measureRoundTrips()
                    }
                }
            }
            await group.next()
            group.cancelAll()
        }
        closeAll()
    }

    // MARK: What the links look like

    /// Open links, fastest first.
    func openLinks() -> [(peer: PeerID, link: PeerLink)] {
        state.withLock { state in
            state.entries.compactMap { peer, entry in entry.link.map { (peer, $0, entry.roundTrip ?? .seconds(1)) } }
        }.sorted { $0.2 < $1.2 }.map { ($0.0, $0.1) }
    }

    /// Whether `peer` was too slow lately (see ``tooSlow(_:)``).
    func isBenched(_ peer: PeerID) -> Bool {
        let now = ContinuousClock.now
        return state.withLock { $0.isBenched(peer, at: now) }
    }

    /// The open link to `peer`, if any.
    func link(to peer: PeerID) -> PeerLink? { state.withLock { $0.entries[peer]?.link } }

    /// Links open or being opened.
    var count: Int { state.withLock { $0.entries.count } }

    /// Whether `peer` sent bad bytes for `digest` before.
    func isLiar(_ peer: PeerID, for digest: ResourceDigest) -> Bool { state.withLock { $0.liars[digest]?.contains(peer) == true } }

    // MARK: What transfers teach

    /// A transfer from `peer` succeeded: its failure count starts over.
    func succeeded(_ peer: PeerID) { state.withLock { $0.entries[peer]?.failures = 0 } }

    /// A transfer from `peer` failed (stalled, closed, protocol): counted towards eviction.
    func failed(_ peer: PeerID) { state.withLock { $0.entries[peer]?.failures += 1 } }

    /// A transfer from `peer` crawled (under the least rate, or too slow for its deadline):
    /// a failure, and the peer is not asked again for ``benchTime`` — so that a peer that
    /// drips bytes costs one fetch its grace, not every fetch its deadline.
    func tooSlow(_ peer: PeerID) {
        let now = ContinuousClock.now
        state.withLock { state in
            state.entries[peer]?.failures += 1
            state.benched = state.benched.filter { $0.value > now }
            if state.benched.count < Self.maxBenched { state.benched[peer] = now + Self.benchTime }
        }
        emit(.penalised(peer: peer, reason: "too slow"))
    }

    static let benchTime: Duration = .seconds(60)
    static let maxBenched = 1024

    /// `peer` sent bytes that do not hash to `digest`: it is never asked for it again,
    /// the link is dropped and the server is told the link failed.
    func caughtLying(_ peer: PeerID, digest: ResourceDigest) {
        state.withLock { _ = $0.liars[digest, default: []].insert(peer) }
        logger.warning("a peer sent corrupted bytes; dropping the link", metadata: ["peer": "\(peer)", "digest": "\(digest)"])
        emit(.penalised(peer: peer, reason: "sent bytes that do not hash to \(digest)"))
        drop(peer, report: .failed, reason: "lying")
    }

    /// Remembers what fetches want so that the next `want` prefers its holders.
    func noteWanted(_ digest: ResourceDigest) {
        state.withLock { state in
            state.recentlyWanted.removeAll { $0 == digest }
            state.recentlyWanted.append(digest)
            if state.recentlyWanted.count > 16 { state.recentlyWanted.removeFirst() }
        }
    }

    /// Tier 2: asks the server to pair this peer with one of `holders` (it holds `digest`
    /// and is not linked yet) and waits for the link to open. `nil` when no slot is free
    /// or no link opened in time.
    func connect(toOneOf holders: [PeerID], holding digest: ResourceDigest, timeout: Duration) async -> (peer: PeerID, link: PeerLink)? {
        let candidates = holders.filter { !isLiar($0, for: digest) }
        guard !candidates.isEmpty, count < configuration.maxLinks else { return nil }
        guard server.send(.want(Want(count: 1, digests: [digest], peers: candidates))) else { return nil }
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline, !Task.isCancelled {
            for peer in candidates { if let link = link(to: peer) { return (peer, link) } }
            try? await Task.sleep(for: .milliseconds(25))
        }
        return nil
    }

    // MARK: Keeping the count

    /// Asks the server for partners when below target (and no `want` is recent).
    func checkTarget() {
        let want: Want? = state.withLock { state in
            let missing = configuration.targetLinks - state.entries.count
            guard missing > 0, state.me != nil else { return nil }
            if let last = state.lastWant, ContinuousClock.now - last < configuration.wantInterval { return nil }
            state.lastWant = .now
            return Want(count: missing, digests: state.recentlyWanted.isEmpty ? nil : state.recentlyWanted)
        }
        if let want { server.send(.want(want)) }
    }

    /// At or over target with too few near links: asks for one partner more
    /// (``LinkExploration``); the farthest idle link goes once the new one is measured
    /// (``LinkEviction/farthestBeyondTarget(among:)``).
    private func exploreForNearerPeers() {
        let want: Want? = state.withLock { state in
            guard state.me != nil else { return nil }
            let open = state.entries.values.filter { $0.link != nil }
            guard
                state.exploration.shouldExplore(
                    roundTrips: open.map(\.roundTrip), entries: state.entries.count, targetLinks: configuration.targetLinks,
                    maxLinks: configuration.maxLinks, now: .now)
            else { return nil }
            return Want(count: 1, digests: state.recentlyWanted.isEmpty ? nil : state.recentlyWanted)
        }
        guard let want else { return }
        logger.debug("looking for a nearer partner than the farthest link")
        server.send(.want(want))
    }

    /// Replaces at most one bad link per round (``LinkEviction``).
    private func evictOne() {
        let rule = LinkEviction(
            targetLinks: configuration.targetLinks, maxFailures: configuration.maxFailures, slowFactor: configuration.slowFactor)
        let victim: PeerID? = state.withLock { state in
            let now = ContinuousClock.now
            let open: [LinkEviction.Candidate] = state.entries.compactMap { peer, entry in
                guard let link = entry.link else { return nil }
                return .init(
                    peer: peer, failures: entry.failures, benched: state.isBenched(peer, at: now), roundTrip: entry.roundTrip,
                    idle: link.isIdle)
            }
            if let victim = rule.victim(among: open) { return victim }
            guard state.exploration.trimAllowed(now: now), let farthest = rule.farthestBeyondTarget(among: open) else { return nil }
            state.exploration.mayTrim = false
            return farthest
        }
        if let victim {
            emit(.penalised(peer: victim, reason: "failing, slow or farther than the rest"))
            drop(victim, report: .disconnected, reason: "evicted")
        }
    }

    private func measureRoundTrips() async {
        for (peer, link) in openLinks() {
            guard let rtt = await link.measureRoundTrip() else { continue }
            state.withLock { $0.entries[peer]?.roundTrip = rtt }
            server.send(.link(LinkReport(peer: peer, state: .connected, rttMillis: rtt.milliseconds)))
        }
    }

    // MARK: The server's events

    private func handle(_ event: ServerLink.Event) {
        switch event {
        case .connected(let welcome, let url):
            emit(.joined(id: welcome.peer, server: url))
            let stale: [PeerID] = state.withLock { state in
                state.me = welcome.peer
                state.lastWant = nil
                // A new session (new id): nobody knows the old links any more.
                return welcome.resumed ? [] : Array(state.entries.keys)
            }
            resolveIceServers(welcome.iceServers)
            for peer in stale { drop(peer, report: nil, reason: "new server session") }
            if welcome.resumed {
                for (peer, link) in openLinks() where !link.isClosed {
                    let rtt = state.withLock { $0.entries[peer]?.roundTrip }
                    server.send(.link(LinkReport(peer: peer, state: .connected, rttMillis: rtt?.milliseconds)))
                }
            }
            checkTarget()
        case .disconnected(_, let reason):
            queries.failAll()
            emit(.leftServer(reason: reason))
        case .message(let message):
            handle(message)
        }
    }

    private func handle(_ message: ServerMessage) {
        switch message {
        case .pair(let pair): openWhenIceIsReady(pair)
        case .signal(let signal): receive(signal)
        case .unpair(let unpair): drop(unpair.peer, report: nil, reason: "unpaired: \(unpair.reason)")
        case .peerLeft(let left): drop(left.peer, report: nil, reason: "left")
        case .holders, .vouched: queries.answer(message)
        case .iceServers(let update):
            // Fresh TURN credentials (the ones the server minted expire): for the
            // connections made from now on.
            resolveIceServers(update.iceServers)
        case .error(let error):
            if !queries.answer(message) { logger.debug("server error", metadata: ["code": "\(error.code)", "message": "\(error.message)"]) }
        default: break
        }
    }
}
