import Foundation
import FugitiveWire
import Logging
import Metrics
import NIOConcurrencyHelpers

/// Owns the ``OrchestratorState`` and the live connections' links, and carries out
/// the state's actions: it is the one place where decisions meet I/O. Connections call
/// in; nothing here blocks on a socket (links are bounded queues).
///
/// A lock rather than an actor: every relayed signal passes through here, each call
/// takes microseconds and never suspends, and an actor hop per message cost more than
/// the work itself (two task switches; see docs/BENCHMARKS.md). A plain pthread mutex
/// (`NIOLock`) rather than `Synchronization.Mutex`, whose priority-inheriting futex spun
/// in the kernel whenever the two event loops met here.
public final class Orchestrator: Sendable {
    private let core: NIOLockedValueBox<Core>
    /// The cluster this instance belongs to, if any.
    let cluster: ClusterLink?
    /// What the orchestration was configured with.
    public let configuration: OrchestratorState.Configuration

    /// - Parameters:
    ///   - voucher: fetches digests for `vouch` (a ``DigestVoucher``); `nil` refuses every vouch.
    ///   - cluster: the shared store when this is one instance of a cluster.
    ///   - metricsFactory: where metrics go (the Prometheus registry's factory).
    public init(
        configuration: OrchestratorState.Configuration, voucher: (any DigestVouching)?, cluster store: (any ClusterStore)? = nil,
        instance: InstanceID = .random(), metricsFactory: any MetricsFactory, logger: Logger
    ) {
        var core = Core(configuration: configuration, voucher: voucher, metricsFactory: metricsFactory, logger: logger)
        if store != nil { core.state.joinCluster(as: instance) }
        self.core = NIOLockedValueBox(core)
        self.configuration = configuration
        self.cluster = store.map { ClusterLink(store: $0, instance: instance, metricsFactory: metricsFactory, logger: logger) }
    }

    /// Runs `body` under the lock, for what leaves nothing to do outside it.
    func withCore<T>(_ body: (inout Core) -> T) -> T { core.withLockedValue { body(&$0) } }

    /// Runs `body` under the lock, then starts what it deferred (vouches, messages to other
    /// instances, store lookups) outside it.
    @discardableResult
    func locked<T>(_ body: (inout Core) -> T) -> T {
        let (result, work) = core.withLockedValue { core in (body(&core), core.takeDeferred()) }
        if !work.isEmpty { start(work) }
        return result
    }

    func admit(host: String, link: any SessionLink) -> Bool { locked { $0.admit(host: host, link: link) } }

    func join(_ hello: Hello, address: NetworkAddress?, stored: StoredSession? = nil, link: any SessionLink) throws(WireError) -> Welcome {
        let result = locked { core -> Result<Welcome, WireError> in
            do throws(WireError) { return .success(try core.join(hello, address: address, stored: stored, link: link)) } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    func receive(_ message: ServerMessage, from id: PeerID, link: any SessionLink) {
        locked { $0.receive(message, from: id, link: link) }
    }

    func leave(_ id: PeerID?, host: String, link: any SessionLink) { locked { $0.leave(id, host: host, link: link) } }

    func recordError(_ code: WireErrorCode, peer: PeerID?) { locked { $0.recordError(code, peer: peer) } }

    /// The server's own round trip to `peer` (its WebSocket ping), for pairing by distance.
    func serverRoundTrip(_ peer: PeerID, millis: Double) { locked { $0.state.measureServerRoundTrip(peer, millis: millis) } }

    /// Expires pairs, silent sessions, parked sessions and connections that never said
    /// hello. Called twice a second.
    public func tick() { locked { $0.tick() } }

    /// Brings the gauges up to date: an O(peers) pass, done when `/metrics` is scraped.
    public func refreshGauges() { core.withLockedValue { $0.refreshGauges() } }

    /// Tells every peer the server is going away and closes their connections.
    public func shutdown() { locked { $0.shutdown() } }

    /// Totals and per-swarm numbers (an O(peers) pass); the open connections are the
    /// server's to add (``OrchestratorServer/statistics()``).
    public func statistics() -> ServerStatistics {
        let (statistics, remotePartners) = core.withLockedValue { ($0.statistics(), $0.state.remotePartnerCount) }
        var withCluster = statistics
        withCluster.cluster = cluster?.statistics(remotePartners: remotePartners)
        return withCluster
    }

    /// One swarm's peers, links and most-held resources (see ``OrchestratorState/graph(of:limit:top:)``);
    /// the largest swarm when `swarm` is `nil`. The lock is held only to copy the swarm's
    /// member set and index (copy-on-write: O(1)) and to read the listed peers' links;
    /// sorting and ranking happen outside it, so an operator's page never stalls the relay.
    public func graph(of swarm: String?, limit: Int = 500, top: Int = 10) -> SwarmGraph? {
        let snapshot = core.withLockedValue { core -> (name: String, members: Set<PeerID>, index: HolderIndex?)? in
            guard let name = swarm ?? core.state.largestSwarm else { return nil }
            return (name, core.state.members[name] ?? [], core.state.indexes[name])
        }
        guard let snapshot else { return nil }
        let listed = Array(snapshot.members.sorted { $0.rawValue < $1.rawValue }.prefix(limit))
        let (links, relayed) = core.withLockedValue { $0.state.links(among: listed) }
        let resources = (snapshot.index?.mostHeld(top) ?? []).map {
            SwarmGraph.Resource(url: $0.url, digest: $0.digest.description, holders: $0.holders)
        }
        return SwarmGraph(
            swarm: snapshot.name, peers: listed.map(\.rawValue), links: links, relayedLinks: relayed, truncated: snapshot.members.count > limit,
            topResources: resources)
    }

    /// Live sessions, in O(1).
    public var peerCount: Int { core.withLockedValue { $0.state.peerCount } }

    private func start(_ work: DeferredWork) {
        startVouches(work.vouches)
        guard let cluster else { return }
        cluster.outbox.enqueue(work.forwards)
        for (asker, count) in work.partnerSearches where cluster.beginLookup() {
            Task {
                defer { cluster.endLookup() }
                await self.findRemotePartners(for: asker, count: count, cluster: cluster)
            }
        }
        for (asker, query) in work.holderSearches {
            guard cluster.beginLookup() else {
                // Saturated: this instance's holders only.
                locked { core in
                    guard core.state.isConnected(asker) else { return }
                    core.execute([.send(asker, .holders(core.state.answer(query, asker: asker)))])
                }
                continue
            }
            Task {
                defer { cluster.endLookup() }
                await self.answerWithRemoteHolders(asker, query: query, cluster: cluster)
            }
        }
    }

    private func startVouches(_ requests: [(PeerID, Vouch)]) {
        guard !requests.isEmpty else { return }
        let voucher = core.withLockedValue { $0.voucher }
        for (id, request) in requests {
            Task {
                let answer: ServerMessage
                do {
                    guard let voucher else { throw WireError(.originNotAllowed, "this server vouches for no origin") }
                    let vouched = try await voucher.vouch(for: request.url, requester: id)
                    answer = .vouched(
                        Vouched(
                            requestID: request.requestID, url: request.url, digest: vouched.digest, size: vouched.size,
                            pieceRoot: vouched.pieceRoot, pieceSize: vouched.pieceSize.flatMap(UInt32.init(exactly:))))
                } catch {
                    let failure = error as? WireError ?? WireError(.originFailed, "\(error)")
                    answer = .error(ErrorMessage(failure, requestID: request.requestID))
                }
                self.locked { $0.execute([.send(id, answer)]) }
            }
        }
    }
}

/// What a locked section leaves to do outside the lock.
struct DeferredWork {
    var vouches: [(PeerID, Vouch)] = []
    var forwards: [(to: InstanceID, message: ClusterMessage)] = []
    var partnerSearches: [(PeerID, Int)] = []
    var holderSearches: [(PeerID, WhoHas)] = []

    var isEmpty: Bool { vouches.isEmpty && forwards.isEmpty && partnerSearches.isEmpty && holderSearches.isEmpty }
}

/// The orchestrator's mutable part, only ever touched under its lock.
struct Core {
    let configuration: OrchestratorState.Configuration
    var state: OrchestratorState
    var links: [PeerID: any SessionLink] = [:]
    /// Connections that have not said `hello` yet, with their deadline.
    var greeting: [ObjectIdentifier: (link: any SessionLink, deadline: ContinuousClock.Instant)] = [:]
    var connectionsByHost: [String: Int] = [:]
    /// When each session's minted TURN credentials were handed out (only with
    /// ``TURNCredentials/isEnabled``): renewed at half their lifetime.
    var turnIssued: [PeerID: ContinuousClock.Instant] = [:]
    var metrics: ServerMetrics
    var totals = ServerStatistics.Counts()
    var countsBySwarm: [String: ServerStatistics.Counts] = [:]
    let voucher: (any DigestVouching)?
    let logger: Logger
    var deferred = DeferredWork()

    init(configuration: OrchestratorState.Configuration, voucher: (any DigestVouching)?, metricsFactory: any MetricsFactory, logger: Logger) {
        self.configuration = configuration
        self.state = OrchestratorState(configuration: configuration)
        self.voucher = voucher
        self.metrics = ServerMetrics(factory: metricsFactory)
        self.logger = logger
    }

    // MARK: Connections

    /// Admits a new connection from `host` unless it already has the maximum open;
    /// the connection then has `helloTimeout` to say `hello`.
    mutating func admit(host: String, link: any SessionLink) -> Bool {
        guard connectionsByHost[host, default: 0] < configuration.connectionsPerIP else {
            count(.tooManyConnections, swarm: nil)
            return false
        }
        connectionsByHost[host, default: 0] += 1
        greeting[ObjectIdentifier(link)] = (link, .now + configuration.helloTimeout)
        metrics.connections.increment()
        return true
    }

    /// Opens the session for a `hello`.
    mutating func join(_ hello: Hello, address: NetworkAddress?, stored: StoredSession?, link: any SessionLink) throws(WireError) -> Welcome {
        greeting[ObjectIdentifier(link)] = nil
        let (welcome, actions) = try state.connect(
            hello, address: address, newID: PeerID(RandomText.make(bytes: 10)),
            newToken: RandomText.make(bytes: 16), stored: stored, now: .now)
        // A resume that replaced a live connection closes the old one: done before the
        // new link takes the id, so the close reaches the old connection.
        execute(actions)
        links[welcome.peer] = link
        var minted = welcome
        if let turn = configuration.turn.server(for: welcome.peer, now: Date()) {
            minted.iceServers.append(turn)
            turnIssued[welcome.peer] = .now
        }
        return minted
    }

    /// Handles a message from a joined peer.
    mutating func receive(_ message: ServerMessage, from id: PeerID, link: any SessionLink) {
        guard links[id] === link else { return }
        execute(state.receive(message, from: id, now: .now))
    }

    /// What the last locked section left to do outside the lock.
    mutating func takeDeferred() -> DeferredWork {
        guard !deferred.isEmpty else { return DeferredWork() }
        defer { deferred = DeferredWork() }
        return deferred
    }

    /// A connection ended (either side): the session is closed and parked for resume.
    mutating func leave(_ id: PeerID?, host: String, link: any SessionLink) {
        greeting[ObjectIdentifier(link)] = nil
        connectionsByHost[host, default: 1] -= 1
        if connectionsByHost[host] == 0 { connectionsByHost[host] = nil }
        // After a resume the id belongs to the newer connection: leave it alone.
        guard let id, links[id] === link else { return }
        links[id] = nil
        turnIssued[id] = nil
        execute(state.disconnect(id, now: .now))
    }

    /// Counts an error the connection itself detected (bad frame, rate limit).
    mutating func recordError(_ code: WireErrorCode, peer: PeerID?) {
        count(code, swarm: peer.flatMap { state.swarm(of: $0) })
    }

    // MARK: Time

    mutating func tick() {
        let now = ContinuousClock.now
        for (key, entry) in greeting where entry.deadline <= now {
            greeting[key] = nil
            count(.unexpectedMessage, swarm: nil)
            entry.link.close(WireError(.unexpectedMessage, "no hello within \(configuration.helloTimeout.seconds) s"))
        }
        execute(state.expire(now: now))
        renewTURNCredentials(now: now)
    }

    /// Sends fresh TURN credentials (`ice-servers`, the whole list) to the sessions whose
    /// minted ones are half through their lifetime, so that a peer never pairs with an
    /// expired credential.
    mutating func renewTURNCredentials(now: ContinuousClock.Instant) {
        let half = configuration.turn.lifetime / 2
        for (id, issued) in turnIssued where now - issued >= half {
            guard let link = links[id], let turn = configuration.turn.server(for: id, now: Date()) else {
                turnIssued[id] = nil
                continue
            }
            turnIssued[id] = now
            _ = link.send(.iceServers(IceServerUpdate(iceServers: configuration.iceServers + [turn])))
        }
    }

    mutating func refreshGauges() {
        let total = SwarmShape.total(state.shapes().values)
        metrics.recordRelayedBytes(Delivery.total(state.delivered.values).servedRelayed)
        metrics.peers.record(state.peerCount)
        metrics.swarms.record(state.swarmCount)
        metrics.links.record(total.links)
        metrics.relayedLinks.record(total.relayedLinks)
        metrics.pendingPairs.record(total.pendingPairs)
        metrics.holdings.record(total.holdings)
    }

    func shutdown() {
        let goingAway = WireError(.shuttingDown, "server is shutting down")
        for link in links.values { link.close(goingAway) }
        for entry in greeting.values { entry.link.close(goingAway) }
    }

    /// Totals and per-swarm numbers.
    func statistics() -> ServerStatistics {
        let shapes = state.shapes()
        let swarms = shapes.keys.sorted().map {
            ServerStatistics.Swarm(swarm: $0, shape: shapes[$0]!, counts: countsBySwarm[$0] ?? .init(), delivery: state.delivered[$0] ?? .init())
        }
        let total = SwarmShape.total(shapes.values)
        let parked = state.parkedCount
        return ServerStatistics(
            peers: state.peerCount, swarmCount: state.swarmCount, links: total.links, relayedLinks: total.relayedLinks,
            pendingPairs: total.pendingPairs,
            resources: total.resources, holdings: total.holdings, parkedSessions: parked.sessions, parkedHoldings: parked.holdings,
            holdingBytes: state.holdingBytes, counts: totals, delivery: Delivery.total(state.delivered.values), swarms: swarms)
    }

    // MARK: Actions

    /// Carries out actions; what needs I/O beyond a connection's queue is deferred.
    mutating func execute(_ actions: [OrchestratorState.Action]) {
        for action in actions {
            switch action {
            case .send(let id, let message):
                note(message, to: id)
                guard let link = links[id] else { continue }
                if !link.send(message) {
                    logger.warning("outbound queue full: closing", metadata: ["peer": "\(id)"])
                    count(.rateLimited, swarm: state.swarm(of: id))
                }
            case .close(let id, let error):
                count(error.code, swarm: state.swarm(of: id))
                links.removeValue(forKey: id)?.close(error)
            case .vouch(let id, let request):
                metrics.vouches.increment()
                deferred.vouches.append((id, request))
            case .forward(let instance, let message):
                if case .signal = message { metrics.signalsRelayed.increment() }
                deferred.forwards.append((instance, message))
            case .findRemotePartners(let id, let count):
                deferred.partnerSearches.append((id, count))
            case .findRemoteHolders(let id, let query):
                deferred.holderSearches.append((id, query))
            }
        }
    }

    /// Counts what a sent message means for the metrics.
    mutating private func note(_ message: ServerMessage, to id: PeerID) {
        switch message {
        case .pair(let pair) where pair.offerer:
            metrics.pairsMade.increment()
            bump(id) { $0.pairsMade += 1 }
        case .unpair(let unpair) where [.pairTimeout, .pairFailed].contains(unpair.reason) && id.rawValue < unpair.peer.rawValue:
            // Both sides of a pair that never connected are told; count it once.
            metrics.pairsFailed.increment()
            bump(id) { $0.pairsFailed += 1 }
        case .signal:
            metrics.signalsRelayed.increment()
            bump(id) { $0.signalsRelayed += 1 }
        case .error(let error):
            count(error.code, swarm: state.swarm(of: id))
        default:
            break
        }
    }

    mutating private func bump(_ id: PeerID, _ change: (inout ServerStatistics.Counts) -> Void) {
        change(&totals)
        if let swarm = state.swarm(of: id) { change(&countsBySwarm[swarm, default: .init()]) }
    }

    mutating private func count(_ code: WireErrorCode, swarm: String?) {
        metrics.error(code)
        totals.errors["\(code.rawValue)", default: 0] += 1
        if let swarm { countsBySwarm[swarm, default: .init()].errors["\(code.rawValue)", default: 0] += 1 }
    }
}
