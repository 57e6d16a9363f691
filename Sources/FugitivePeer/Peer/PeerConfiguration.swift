import FugitiveRTC
import FugitiveStore

extension Peer {
    /// `scheme://host[:port]` (lowercased) of an absolute http(s) URL without user info:
    /// the origin a resource comes from, and the default swarm key for it.
    public static func origin(of url: String) -> String? { DestinationPolicy.origin(of: url) }

    /// Everything a peer can be told; the defaults suit an app.
    public struct Configuration: Sendable {
        /// `ws(s)://…/v1/signal` of the orchestrator(s); the peer fails over between them.
        public var servers: [String]
        /// The swarm: peers share with peers of the same swarm only (e.g. the origin).
        public var swarm: String
        /// Links kept open (4), and the most this peer takes (8).
        public var targetLinks: Int
        public var maxLinks: Int
        /// The store: memory and disk bounds, and its SQLite file (`nil`: memory only).
        public var store: ResourceStore.Configuration
        /// Concurrent uploads in total and per peer; beyond them a request gets `busy`.
        public var uploadSlots: Int
        public var uploadSlotsPerPeer: Int
        /// Optional rate limits in bytes per second, over all links.
        public var uploadBytesPerSecond: Int?
        public var downloadBytesPerSecond: Int?
        /// A whole fetch, when the caller gives no deadline.
        public var fetchDeadline: Duration
        /// How long peers are asked before the origin is.
        public var peerPhase: Duration
        /// A peer transfer with no progress for this long moves on to another source.
        public var stallTimeout: Duration
        /// How long a new link may take to open.
        public var connectTimeout: Duration
        /// Server reconnection back-off.
        public var backoffBase: Duration
        public var backoffCap: Duration
        /// Local addresses ICE may use (empty: all); `["127.0.0.1"]` keeps tests on loopback.
        public var localAddresses: [String]
        /// Local UDP ports for ICE, `nil` for any.
        public var portRange: ClosedRange<UInt16>?
        /// The largest resource fetched or accepted from a peer.
        public var maxResourceSize: Int
        /// How often links are checked (target, eviction) and round trips measured.
        public var maintenanceInterval: Duration
        public var rttInterval: Duration
        /// A join token from the site's backend, for swarms the orchestrator admits by token.
        public var joinToken: String? = nil
        /// The memory downloads from peers may hold at once, all links together; a transfer
        /// that would go over it moves on to another source. Default 512 MiB.
        public var downloadMemory: Int = 512 << 20
        /// Bytes per second a transfer from a peer must average (after 2 s); a slower one
        /// is abandoned and counts against that peer. Default 32 KiB/s.
        public var minimumPeerRate: Int = 32 << 10
        /// Time kept back for the origin: transfers from peers must end this long before
        /// the fetch's deadline. Default 10 s (at most a third of the deadline).
        public var originReserve: Duration = .seconds(10)

        public init(
            servers: [String], swarm: String, targetLinks: Int = 4, maxLinks: Int = 8, store: ResourceStore.Configuration = .init(),
            uploadSlots: Int = 8, uploadSlotsPerPeer: Int = 2, uploadBytesPerSecond: Int? = nil, downloadBytesPerSecond: Int? = nil,
            fetchDeadline: Duration = .seconds(30), peerPhase: Duration = .seconds(3), stallTimeout: Duration = .seconds(5),
            connectTimeout: Duration = .seconds(15), backoffBase: Duration = .milliseconds(500), backoffCap: Duration = .seconds(30),
            localAddresses: [String] = [], portRange: ClosedRange<UInt16>? = nil, maxResourceSize: Int = 256 << 20,
            maintenanceInterval: Duration = .seconds(1), rttInterval: Duration = .seconds(5)
        ) {
            self.servers = servers
            self.swarm = swarm
            self.targetLinks = targetLinks
            self.maxLinks = maxLinks
            self.store = store
            self.uploadSlots = uploadSlots
            self.uploadSlotsPerPeer = uploadSlotsPerPeer
            self.uploadBytesPerSecond = uploadBytesPerSecond
            self.downloadBytesPerSecond = downloadBytesPerSecond
            self.fetchDeadline = fetchDeadline
            self.peerPhase = peerPhase
            self.stallTimeout = stallTimeout
            self.connectTimeout = connectTimeout
            self.backoffBase = backoffBase
            self.backoffCap = backoffCap
            self.localAddresses = localAddresses
            self.portRange = portRange
            self.maxResourceSize = maxResourceSize
            self.maintenanceInterval = maintenanceInterval
            self.rttInterval = rttInterval
        }
    }
}
