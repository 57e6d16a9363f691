import FugitiveWire

// The records of a cluster that the state machine itself works with (the store that
// keeps them is Cluster/'s).

/// One orchestrator instance of a cluster, by a random id chosen at start.
public struct InstanceID: Hashable, Sendable, Codable, CustomStringConvertible {
    public let rawValue: String
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }

    /// A fresh random id (lowercase letters and digits, so it can name a NOTIFY channel).
    public static func random() -> InstanceID { InstanceID(RandomText.make(bytes: 10)) }
}

/// What the cluster knows of one peer session: its directory row.
public struct PeerRecord: Sendable, Equatable {
    public var id: PeerID
    /// The instance whose WebSocket the peer is connected to (or whose grace period holds it).
    public var instance: InstanceID
    public var swarm: String
    public var resumeToken: String
    public var maxPeers: Int
    public var freeSlots: Int
    /// The client address as the instance saw it (for network proximity), if any.
    public var address: String?
    /// `false` while the session waits for a resume (its connection is gone).
    public var live: Bool
    /// Current partners (pending pairs and links), with whether each link is up.
    public var partners: [PeerID: Bool]
    /// How often the session moved between instances: each takeover writes one more. A
    /// store keeps a row's newest generation and takes a write of the same generation only
    /// from the instance that holds the row, so an old owner's late writes (a park, an
    /// expiry, holdings flushed after the move) cannot take the row back or empty it.
    public var generation: Int

    public init(
        id: PeerID, instance: InstanceID, swarm: String, resumeToken: String, maxPeers: Int, freeSlots: Int,
        address: String?, live: Bool, partners: [PeerID: Bool] = [:], generation: Int = 0
    ) {
        self.id = id
        self.instance = instance
        self.swarm = swarm
        self.resumeToken = resumeToken
        self.maxPeers = maxPeers
        self.freeSlots = freeSlots
        self.address = address
        self.live = live
        self.partners = partners
        self.generation = generation
    }

    /// Whether a store holding `current` takes `self` in its place (see ``generation``).
    public func supersedes(_ current: PeerRecord?) -> Bool {
        guard let current else { return true }
        return generation > current.generation || (generation == current.generation && instance == current.instance)
    }

    /// The /24 (/48) and /16 keys of the address, as the stores index them.
    public var networkKeys: (near: [UInt8], mid: [UInt8])? { address.flatMap(NetworkAddress.init)?.networkKeys }
}

/// A session found by its resume token on another instance (or parked there).
public struct StoredSession: Sendable, Equatable {
    public var record: PeerRecord
    public var holdings: [Holding]

    public init(record: PeerRecord, holdings: [Holding]) {
        self.record = record
        self.holdings = holdings
    }
}

/// One batch of an instance's directory changes, in the order the store must apply them:
/// removals, then upserts, then holdings.
public struct DirectoryChanges: Sendable, Equatable {
    /// Peers whose sessions ended (not parked): their rows, links and holdings go.
    public var removed: [PeerID] = []
    /// Peers whose row is new or changed (slots, partners, live/parked).
    public var upserted: [PeerRecord] = []
    public var holdingsAdded: [PeerID: [Holding]] = [:]
    public var holdingsRemoved: [PeerID: [ResourceDigest]] = [:]

    public init() {}

    public var isEmpty: Bool { removed.isEmpty && upserted.isEmpty && holdingsAdded.isEmpty && holdingsRemoved.isEmpty }
}
