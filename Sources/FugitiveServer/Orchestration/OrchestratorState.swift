import FugitiveWire

/// The orchestrator's decisions as an I/O-free state machine: sessions, swarms, pairs,
/// the live link graph, holdings and resumable sessions. Every mutating method returns
/// the ``Action``s the caller must carry out (send a message, close a connection), so
/// that all of it is unit-tested without sockets and the same logic can later sit on a
/// shared store.
public struct OrchestratorState: Sendable {
    public typealias Instant = ContinuousClock.Instant

    /// The orchestration's knobs: the state machine's, and the two the ``Orchestrator``
    /// applies to connections before they say `hello`.
    public struct Configuration: Sendable, Equatable {
        /// Open connections from one address (IPv6: one ``ipv6LimitPrefix``). Default 32.
        public var connectionsPerIP = 32
        /// A connection must say `hello` within this time. Default 10 s.
        public var helloTimeout: Duration = .seconds(10)
        /// A pair that has not reported `connected` by then is dropped. Default 20 s.
        public var pairTimeout: Duration = .seconds(20)
        /// A pair that could not connect (it timed out, or a side reported it failed) is not
        /// made again for this long: the two peers are left to others (and the origin), not
        /// paired into the same failure over and over. Default 10 min; zero: at once.
        public var unreachableRetry: Duration = .seconds(600)
        /// A session silent for this long is closed. Default 45 s.
        public var heartbeatTimeout: Duration = .seconds(45)
        /// The heartbeat interval announced in `welcome`. Default 15 s.
        public var heartbeatInterval: Duration = .seconds(15)
        /// How long a closed session's id and holdings wait for a resume. Default 60 s.
        public var resumeGrace: Duration = .seconds(60)
        /// Most resources one peer may announce. Default 10 000.
        public var holdingsPerPeer = 10_000
        /// Bytes one session's holdings may cost (URLs plus bookkeeping, see
        /// ``HoldingLedger/cost(of:)``). Default 2 MiB.
        public var holdingBytesPerPeer = 2 << 20
        /// Bytes the holdings of all sessions from one address (IPv6: one
        /// ``ipv6LimitPrefix``), live and parked, may cost. Default 32 MiB.
        public var holdingBytesPerAddress = 32 << 20
        /// Bytes all holdings, live and parked, may cost. Default 1 GiB.
        public var maxHoldingBytes = 1 << 30
        /// Parked sessions (waiting for a resume) per address; the oldest makes room.
        /// Default 64.
        public var parkedPerAddress = 64
        /// Parked sessions in total; beyond it a closed session is not kept. Default 100 000.
        public var maxParkedSessions = 100_000
        /// IPv6 addresses count against per-address limits by this prefix. Default 64.
        public var ipv6LimitPrefix = 64
        /// Most peers in one swarm. Default 100 000.
        public var peersPerSwarm = 100_000
        /// ICE servers handed out in `welcome`.
        public var iceServers: [ICEServer] = []
        /// TURN credentials minted per peer (added to ``iceServers`` in `welcome`, renewed
        /// with `ice-servers`). Off by default.
        public var turn = TURNCredentials()
        /// Pairs one peer may ask for per second, sustained. Default 1.
        public var pairsPerSecond = 1.0
        /// Pairs one peer may ask for in a burst. Default 32.
        public var pairBurst = 32.0
        /// The most one session's `report` counters may grow per second each; claims
        /// beyond it are cut to it. Default 1 GiB/s.
        public var maxReportedBytesPerSecond: UInt64 = 1 << 30

        public init() {}
    }

    /// What the caller must do.
    public enum Action: Sendable, Equatable {
        case send(PeerID, ServerMessage)
        /// Send `error` and close the peer's connection.
        case close(PeerID, WireError)
        /// The peer asked for a vouched digest: fetch it (outside this state) and answer.
        case vouch(PeerID, Vouch)
        /// Deliver a message to another instance of the cluster.
        case forward(InstanceID, ClusterMessage)
        /// The peer wants `count` more partners than this instance could offer: look for
        /// open peers on other instances and ``requestRemotePair(_:with:now:)`` them.
        case findRemotePartners(PeerID, count: Int)
        /// Answer the peer's `who-has` with holders here and on other instances.
        case findRemoteHolders(PeerID, WhoHas)
    }

    struct Session: Sendable {
        let id: PeerID
        let swarm: String
        let address: NetworkAddress?
        let resumeToken: String
        var max: Int
        /// Takeovers from other instances so far (``PeerRecord/generation``).
        var generation = 0
        var lastSeen: Instant
        /// Pairs waiting for `connected` from both sides.
        var pending: [PeerID: PendingPair] = [:]
        /// Live links.
        var connected: Set<PeerID> = []
        /// Links either side reported relayed (through TURN).
        var relayed: Set<PeerID> = []
        var held: [ResourceDigest: Holding] = [:]
        /// What `held` is charged (``HoldingLedger/cost(of:)`` summed).
        var heldBytes = 0
        /// The peer's last `report` (its counters only grow).
        var reported = DeliveryReport(fromOrigin: 0, fromPeers: 0, served: 0)
        /// When the last `report` came (the session's start before the first).
        var reportedAt: Instant
        /// Holders this peer was recently given in `holders` answers: the only peers a
        /// `want` may name (oldest first, at most ``OrchestratorState/offeredMemory``).
        var offered: [PeerID] = []
        /// Pairs this peer may still ask for (`want`), refilled over time.
        var pairBudget: RateLimiter
        /// Peers it could not connect to, and until when they are not paired again (at
        /// most ``OrchestratorState/unreachableMemory``).
        var unreachable: [PeerID: Instant] = [:]
        /// Where it sits in round-trip space, from the round trips measured to it
        /// (OrchestratorState+Distance).
        var coordinate = NetworkCoordinate()

        /// Whether a pair with `peer` failed lately.
        func cannotReach(_ peer: PeerID, now: Instant) -> Bool { unreachable[peer].map { $0 > now } ?? false }

        var partners: Set<PeerID> { connected.union(pending.keys) }
        /// Whether `peer` is a partner, without building the set (the relay's hot path).
        func isPartner(_ peer: PeerID) -> Bool { connected.contains(peer) || pending[peer] != nil }
        var freeSlots: Int { max - connected.count - pending.count }
    }

    /// A pair that is not a link yet: it becomes one only when both peers have said
    /// `connected` (either side alone could be lying, to fill the other's slots).
    struct PendingPair: Sendable {
        var deadline: Instant
        /// This session's peer said the link is up.
        var claimed = false
        /// The partner said the link is up.
        var partnerClaimed = false
    }

    struct Parked: Sendable {
        let id: PeerID
        let swarm: String
        let address: NetworkAddress?
        let resumeToken: String
        let held: [Holding]
        let expires: Instant
        let generation: Int
        /// Links to partners on this instance, kept for the resume: the partners were not
        /// told `peer-left` and keep the link in their slots until the session ends.
        var links: Set<PeerID> = []
    }

    public let configuration: Configuration
    let policy = PairingPolicy()
    var sessions: [PeerID: Session] = [:]
    var members: [String: Set<PeerID>] = [:]
    var indexes: [String: HolderIndex] = [:]
    var parked: [String: Parked] = [:]
    /// Holdings' and parked sessions' cost per address and in total.
    var ledger = HoldingLedger()
    /// Live sessions by resume token, so a reconnect storm costs O(1) per hello.
    var sessionByToken: [String: PeerID] = [:]
    /// Measured round-trip times, keyed by the unordered pair.
    var rtts: [PeerPair: Double] = [:]
    /// For each peer, the peers it has a measured RTT with (to find and forget them).
    var measured: [PeerID: Set<PeerID>] = [:]
    /// This server's own place in round-trip space (every peer's ping measures it).
    var serverCoordinate = NetworkCoordinate()
    /// Peers with a free slot, per swarm and per swarm and network, so that pairing
    /// looks at a bounded sample instead of the whole swarm.
    var open: [String: OpenPeerSet] = [:]
    var openByNetwork: [NetworkBucket: OpenPeerSet] = [:]
    /// This instance's id when it runs in a cluster (see ``joinCluster(as:)``).
    public internal(set) var instance: InstanceID?
    /// Peers on other instances partnered with peers here.
    var remotes: [PeerID: RemotePeer] = [:]
    /// Directory changes not yet written to the cluster's store.
    var journal = DirectoryJournal()
    /// Bytes peers reported, per swarm, since the server started.
    public internal(set) var delivered: [String: Delivery] = [:]

    public init(configuration: Configuration = .init()) {
        self.configuration = configuration
    }

    /// Number of live sessions.
    public var peerCount: Int { sessions.count }
    /// Number of swarms with at least one peer.
    public var swarmCount: Int { members.count }
    /// Number of live links (each counted once).
    public var linkCount: Int { sessions.values.reduce(0) { $0 + $1.connected.count } / 2 }

    // MARK: Sessions

    /// Opens a session for a `hello`. `newID` and `newToken` are used unless the hello's
    /// resume token is honoured — here, or by `stored`, the session another instance of
    /// the cluster held under that token. Throws when the swarm is full.
    public mutating func connect(
        _ hello: Hello, address: NetworkAddress?, newID: PeerID, newToken: String, stored: StoredSession? = nil, now: Instant
    ) throws(WireError) -> (welcome: Welcome, actions: [Action]) {
        var actions: [Action] = []
        var id = newID
        var token = newToken
        var restored: [Holding] = []
        var links: Set<PeerID> = []
        var resumed = false
        var generation = 0
        if let resumeToken = hello.resumeToken {
            if let live = sessionByToken[resumeToken].flatMap({ sessions[$0] }), live.swarm == hello.swarm {
                // The peer reconnected before its old connection was noticed gone.
                actions += [.close(live.id, WireError(.resumeRejected, "session resumed elsewhere"))]
                let held = Array(live.held.values)
                links = keptLinks(of: live)
                actions += disconnect(live.id, now: now, park: false, keepingLinks: true)
                (id, token, restored, resumed, generation) = (live.id, resumeToken, held, true, live.generation)
            } else if let parkedSession = parked[resumeToken], parkedSession.swarm == hello.swarm, parkedSession.expires > now {
                (id, token, restored, resumed, generation) = (parkedSession.id, resumeToken, parkedSession.held, true, parkedSession.generation)
                links = parkedSession.links
            } else if let stored, stored.record.resumeToken == resumeToken, stored.record.swarm == hello.swarm,
                sessions[stored.record.id] == nil, let instance, stored.record.instance != instance
            {
                // Resumed from another instance: it closes or forgets its side when told.
                (id, token, restored, resumed) = (stored.record.id, resumeToken, stored.holdings, true)
                // One more takeover: the old owner's late writes no longer count.
                generation = stored.record.generation + 1
                actions += [.forward(stored.record.instance, .sessionMoved(peer: id, resumeToken: token))]
                // Its links to partners here live on as this instance's own: ending them
                // would drop a working WebRTC link (and the transfers on it) for nothing.
                links = remotes[id].map { remote in remote.partners.filter { sessions[$0]?.connected.contains(id) == true } } ?? []
                actions += remoteLeft(id, keeping: links)
            }
        }
        // Checked before the parked session is taken, so a refused resume can be retried.
        guard members[hello.swarm, default: []].count < configuration.peersPerSwarm else {
            throw WireError(.swarmFull, "swarm has \(configuration.peersPerSwarm) peers")
        }
        if resumed { unpark(token) }
        sessions[id] = Session(
            id: id, swarm: hello.swarm, address: address, resumeToken: token, max: hello.maxPeers, generation: generation, lastSeen: now,
            reportedAt: now, pairBudget: RateLimiter(rate: configuration.pairsPerSecond, burst: configuration.pairBurst, now: now))
        // The links that waited for this resume, as far as the partners still keep them and
        // the peer's new maximum allows.
        let alive = links.filter { sessions[$0]?.connected.contains(id) == true || remotes[$0]?.partners.contains(id) == true }
            .sorted { $0.rawValue < $1.rawValue }
        sessions[id]?.connected = Set(alive.prefix(max(0, hello.maxPeers)))
        actions += endKeptLinks(of: id, Set(alive.dropFirst(max(0, hello.maxPeers))))
        // Those that ended meanwhile, or did not fit: the peer hears it now.
        for gone in links.subtracting(sessions[id]?.connected ?? []).sorted(by: { $0.rawValue < $1.rawValue }) {
            actions.append(.send(id, .peerLeft(PeerLeft(peer: gone))))
        }
        for holding in restored { _ = addHolding(holding, to: id) }
        sessionByToken[token] = id
        members[hello.swarm, default: []].insert(id)
        reindex(id)
        let welcome = Welcome(
            peer: id, resumeToken: token, resumed: resumed, iceServers: configuration.iceServers,
            heartbeatMillis: Int(configuration.heartbeatInterval.components.seconds * 1000)
        )
        return (welcome, actions)
    }

    /// Ends a session: pairs and holdings go; unless `park` is false, the id and holdings
    /// wait `resumeGrace` for a resume, and so do its links to partners here (they are told
    /// `peer-left` only when the session really ends). Partners of a session that is not
    /// parked are told `peer-left` at once, unless `keepingLinks` (it resumes right away).
    /// `moved`: the session lives on in another instance, which owns its directory row now.
    public mutating func disconnect(
        _ id: PeerID, now: Instant, park: Bool = true, moved: Bool = false, keepingLinks: Bool = false
    ) -> [Action] {
        guard let session = sessions[id] else { return [] }
        var actions: [Action] = []
        let kept = keptLinks(of: session)
        // Parked first, so that the partners' links are kept only when it was.
        let parkedIt = park && self.park(session, links: kept, now: now, actions: &actions)
        let keep = parkedIt || keepingLinks
        forget(id)
        indexes[session.swarm]?.removeAll(of: id)
        sessions[id] = nil
        sessionByToken[session.resumeToken] = nil
        members[session.swarm]?.remove(id)
        if members[session.swarm]?.isEmpty == true { members[session.swarm] = nil }
        if indexes[session.swarm]?.resourceCount == 0 { indexes[session.swarm] = nil }
        var remotePartners: [InstanceID: [PeerID]] = [:]
        for partner in session.partners.sorted(by: { $0.rawValue < $1.rawValue }) {
            if keep && kept.contains(partner) { continue }
            if let remote = remotes[partner] {
                if !remote.awaiting.contains(id) { remotePartners[remote.instance, default: []].append(partner) }
                detach(partner, from: id)
                continue
            }
            sessions[partner]?.pending[id] = nil
            sessions[partner]?.connected.remove(id)
            reindex(partner)
            actions.append(.send(partner, .peerLeft(PeerLeft(peer: id))))
        }
        actions += forwardPeerLeft(of: id, to: remotePartners)
        forgetMeasurements(of: id)
        // Parked, the holdings stay charged until the session expires or resumes.
        if parkedIt { return actions }
        refundHoldings(of: session)
        if instance != nil, moved {
            journal.disown(id)
        } else if instance != nil {
            journal.remove(id)
        }
        return actions
    }

    /// The links of `session` that may wait for its resume: to live partners on this
    /// instance, and to partners on other instances (whose instances are told nothing
    /// until the session really ends).
    func keptLinks(of session: Session) -> Set<PeerID> {
        session.connected.filter { sessions[$0] != nil || remotes[$0]?.partners.contains(session.id) == true }
    }

    /// A session whose links were kept ends for good (or its resume failed): the partners
    /// that still keep a link to it drop it and are told `peer-left` — here, or through
    /// their instance.
    mutating func endKeptLinks(of id: PeerID, _ links: Set<PeerID>) -> [Action] {
        var actions: [Action] = []
        var remotePartners: [InstanceID: [PeerID]] = [:]
        for partner in links.sorted(by: { $0.rawValue < $1.rawValue }) {
            if let remote = remotes[partner], remote.partners.contains(id) {
                detach(partner, from: id)
                remotePartners[remote.instance, default: []].append(partner)
            } else if sessions[partner]?.connected.contains(id) == true {
                sessions[partner]?.connected.remove(id)
                reindex(partner)
                actions.append(.send(partner, .peerLeft(PeerLeft(peer: id))))
            }
        }
        return actions + forwardPeerLeft(of: id, to: remotePartners)
    }

    /// `peer-left` for `id`, to its partners on other instances, one message per instance.
    func forwardPeerLeft(of id: PeerID, to remotePartners: [InstanceID: [PeerID]]) -> [Action] {
        remotePartners.sorted { $0.key.rawValue < $1.key.rawValue }.map { .forward($0.key, .peerLeft(peer: id, to: $0.value)) }
    }

    mutating func forgetMeasurements(of id: PeerID) {
        for other in measured.removeValue(forKey: id) ?? [] {
            rtts[PeerPair(id, other)] = nil
            measured[other]?.remove(id)
            if measured[other]?.isEmpty == true { measured[other] = nil }
        }
    }
}

/// An unordered pair of peers.
struct PeerPair: Hashable, Sendable {
    let a: PeerID
    let b: PeerID
    init(_ x: PeerID, _ y: PeerID) {
        (a, b) = x.rawValue < y.rawValue ? (x, y) : (y, x)
    }
}
