import FugitiveWire

/// A digest the cluster vouched for, shared by every instance until it expires.
public struct RegisteredDigest: Sendable, Equatable {
    public var digest: ResourceDigest
    public var size: UInt64
    public var expiresAt: Double
    /// The root of its piece tree and the piece size, when the vouching instance computed it.
    public var pieceRoot: ResourceDigest?
    public var pieceSize: Int?

    /// - Parameter expiresAt: seconds since 1970.
    public init(digest: ResourceDigest, size: UInt64, expiresAt: Double, pieceRoot: ResourceDigest? = nil, pieceSize: Int? = nil) {
        self.digest = digest
        self.size = size
        self.expiresAt = expiresAt
        self.pieceRoot = pieceRoot
        self.pieceSize = pieceSize
    }
}

/// The storage seam of a cluster of orchestrator instances: the peer directory (who is on
/// which instance, in which swarm, with what capacity and network), the link graph (each
/// row's partners), the holder index, the digest registry, instance liveness and the
/// delivery of ``ClusterMessage``s between instances.
///
/// Each instance keeps its own sessions in memory (the relay's hot path never waits on
/// the store) and writes its part of the directory here in batches; it reads the store
/// only for what lives elsewhere: remote pairing candidates, remote holders, sessions
/// resumed from another instance. Implementations: ``MemoryClusterStore`` (instances in
/// one process) and `PostgresClusterStore` (module FugitivePostgres).
public protocol ClusterStore: Sendable {
    /// Creates or migrates the schema. Called once per instance before anything else.
    func prepare() async throws

    /// Records that `instance` is alive now. Returns `true` when the instance had no row
    /// (first beat, or the cluster expired it while it could not reach the store): the
    /// caller must then write its whole directory again.
    func heartbeat(_ instance: InstanceID) async throws -> Bool

    /// Deletes the instances silent for longer than `expiry`, with their peers, links and
    /// holdings, and returns the instances still alive.
    func expireInstances(silentFor expiry: Duration) async throws -> Set<InstanceID>

    /// Removes an instance and everything it wrote (graceful shutdown).
    func retire(_ instance: InstanceID) async throws

    /// Applies one batch of `instance`'s directory changes.
    func apply(_ changes: DirectoryChanges, from instance: InstanceID) async throws

    /// Live peers with a free slot in `swarm` on other live instances, nearest network
    /// first (same /24, then /16), then most free slots.
    func openPeers(swarm: String, near address: String?, excluding: InstanceID, skipping: Set<PeerID>, limit: Int) async throws -> [PeerRecord]

    /// Live holders of `digest` (or of the digest last announced for `url`) in `swarm` on
    /// other live instances.
    func holders(swarm: String, digest: ResourceDigest?, url: String?, excluding: InstanceID, limit: Int) async throws -> (
        digest: ResourceDigest?, peers: [PeerRecord]
    )

    /// A session of another live instance by resume token, live or parked.
    func session(resumeToken: String, swarm: String, excluding: InstanceID) async throws -> StoredSession?

    /// The digest registry: a vouched digest for `url`, if one has not expired.
    func registeredDigest(for url: String) async throws -> RegisteredDigest?
    func register(_ digest: RegisteredDigest, for url: String) async throws

    /// Delivers messages to other instances, in order per destination. Messages to an
    /// instance that is gone are dropped (as a closed WebSocket would drop them).
    func send(_ messages: [(to: InstanceID, message: ClusterMessage)], from sender: InstanceID) async throws

    /// Receives the messages sent to `instance`, in the order sent, until the task is
    /// cancelled; `onReady` runs once the instance is listening.
    func receive(as instance: InstanceID, onReady: @Sendable () async -> Void, _ handle: @Sendable (ClusterEnvelope) async -> Void) async throws
}

/// The cluster's totals, for `/v1/stats`.
public struct ClusterStatistics: Sendable, Codable, Equatable {
    /// This instance's id.
    public var instance: String
    /// Live instances, this one included.
    public var instances: Int
    /// Peers on other instances that are partners of peers here.
    public var remotePartners: Int
    /// Messages sent to and received from other instances.
    public var messagesSent: Int
    public var messagesReceived: Int
    /// Store lookups skipped because ``maxLookups`` were under way (answered locally).
    public var lookupsShed: Int
    /// Store operations that failed (the store was unreachable or refused).
    public var storeErrors: Int
}
