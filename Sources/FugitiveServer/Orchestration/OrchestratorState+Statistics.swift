import FugitiveWire

/// A swarm's shape at one instant, as `/v1/stats` reports it.
public struct SwarmShape: Sendable, Codable, Equatable {
    public var peers = 0
    /// Live links, each counted once.
    public var links = 0
    /// Live links through a TURN server (as the peers report them), each counted once.
    public var relayedLinks = 0
    /// Pairs still waiting for `connected`, each counted once.
    public var pendingPairs = 0
    /// Distinct resources announced.
    public var resources = 0
    /// Announcements (peer, resource).
    public var holdings = 0

    public init(peers: Int = 0, links: Int = 0, pendingPairs: Int = 0, resources: Int = 0, holdings: Int = 0) {
        (self.peers, self.links, self.pendingPairs, self.resources, self.holdings) = (peers, links, pendingPairs, resources, holdings)
    }

    /// The sum of several swarms' shapes.
    static func total(_ shapes: some Sequence<SwarmShape>) -> SwarmShape {
        shapes.reduce(into: SwarmShape()) { sum, shape in
            sum.peers += shape.peers
            sum.links += shape.links
            sum.relayedLinks += shape.relayedLinks
            sum.pendingPairs += shape.pendingPairs
            sum.resources += shape.resources
            sum.holdings += shape.holdings
        }
    }
}

/// Resource bytes peers reported for a swarm since the server started: where what they
/// fetched came from, and what they served each other. These are the peers' claims (the
/// server carries none of the bytes), bounded per session by
/// ``OrchestratorState/Configuration/maxReportedBytesPerSecond``; sums saturate.
public struct Delivery: Sendable, Codable, Equatable {
    public var fromOrigin: UInt64 = 0
    public var fromPeers: UInt64 = 0
    public var served: UInt64 = 0
    /// Of ``served``, what went through a TURN relay (what the operator's TURN server carried).
    public var servedRelayed: UInt64 = 0

    public init(fromOrigin: UInt64 = 0, fromPeers: UInt64 = 0, served: UInt64 = 0, servedRelayed: UInt64 = 0) {
        (self.fromOrigin, self.fromPeers, self.served, self.servedRelayed) = (fromOrigin, fromPeers, served, servedRelayed)
    }

    static func total(_ deliveries: some Sequence<Delivery>) -> Delivery {
        deliveries.reduce(into: Delivery()) { sum, delivery in
            sum.fromOrigin.saturatingAdd(delivery.fromOrigin)
            sum.fromPeers.saturatingAdd(delivery.fromPeers)
            sum.served.saturatingAdd(delivery.served)
            sum.servedRelayed.saturatingAdd(delivery.servedRelayed)
        }
    }
}

/// One swarm's peers, links and most-held resources, for the dashboard.
public struct SwarmGraph: Sendable, Codable, Equatable {
    public struct Resource: Sendable, Codable, Equatable {
        public var url: String?
        public var digest: String
        public var holders: Int
    }

    public var swarm: String
    /// Peers (at most the limit asked for; `truncated` says when more exist).
    public var peers: [String]
    /// Links between the peers listed, each once.
    public var links: [[String]]
    /// Those of ``links`` that go through a TURN relay (either end reported a `relay`
    /// candidate): what the operator's TURN server carries.
    public var relayedLinks: [[String]]
    public var truncated: Bool
    public var topResources: [Resource]
}

extension OrchestratorState {
    /// The graph of `swarm`: up to `limit` peers, their links among them, and the `top`
    /// resources with the most holders. O(swarm + its resources): the orchestrator runs
    /// the expensive parts outside its lock (``Orchestrator/graph(of:limit:top:)``).
    public func graph(of swarm: String, limit: Int = 500, top: Int = 10) -> SwarmGraph {
        let members = self.members[swarm] ?? []
        let listed = Array(members.sorted { $0.rawValue < $1.rawValue }.prefix(limit))
        let resources = (indexes[swarm]?.mostHeld(top) ?? []).map {
            SwarmGraph.Resource(url: $0.url, digest: $0.digest.description, holders: $0.holders)
        }
        let (links, relayed) = links(among: listed)
        return SwarmGraph(
            swarm: swarm, peers: listed.map(\.rawValue), links: links, relayedLinks: relayed, truncated: members.count > limit,
            topResources: resources)
    }

    /// Links between `listed` peers, each once (smaller id first), and which of them are relayed.
    func links(among listed: [PeerID]) -> (all: [[String]], relayed: [[String]]) {
        let included = Set(listed)
        var links: [[String]] = []
        var relayed: [[String]] = []
        for id in listed {
            guard let index = sessions.index(forKey: id) else { continue }
            let session = sessions.values[index]
            // Sorted: a Set's order differs from run to run, and the graph is compared and diffed.
            for other in session.connected.sorted(by: { $0.rawValue < $1.rawValue })
            where id.rawValue < other.rawValue && included.contains(other) {
                links.append([id.rawValue, other.rawValue])
                // A link report's route is recorded on both sessions.
                if session.relayed.contains(other) { relayed.append([id.rawValue, other.rawValue]) }
            }
        }
        return (links, relayed)
    }

    /// The swarm with the most peers (O(swarms)).
    var largestSwarm: String? { members.max { $0.value.count < $1.value.count }?.key }

    /// The swarm a live peer belongs to.
    public func swarm(of id: PeerID) -> String? { reading(id) { $0.swarm } }

    /// Whether `id` has a live session.
    public func isConnected(_ id: PeerID) -> Bool { sessions.index(forKey: id) != nil }

    /// Reads a live session in place: `sessions[id]?.field` copies the whole session
    /// (retaining every collection in it), which shows on the relay's hot path.
    func reading<T>(_ id: PeerID, _ read: (borrowing Session) -> T) -> T? {
        guard let index = sessions.index(forKey: id) else { return nil }
        return read(sessions.values[index])
    }

    /// Every swarm's shape. O(peers); meant for statistics requests and periodic gauges.
    public func shapes() -> [String: SwarmShape] {
        var shapes: [String: SwarmShape] = [:]
        for session in sessions.values {
            var shape = shapes[session.swarm, default: SwarmShape()]
            shape.peers += 1
            // Each link and pending pair appears on both sides: count it from the smaller id.
            shape.links += session.connected.count { session.id.rawValue < $0.rawValue }
            shape.relayedLinks += session.relayed.count { session.id.rawValue < $0.rawValue && session.connected.contains($0) }
            shape.pendingPairs += session.pending.keys.count { session.id.rawValue < $0.rawValue }
            shape.holdings += session.held.count
            shapes[session.swarm] = shape
        }
        for (swarm, index) in indexes { shapes[swarm]?.resources = index.resourceCount }
        return shapes
    }
}
