/// A resource a peer holds.
public struct Holding: Codable, Hashable, Sendable {
    public var digest: ResourceDigest
    public var url: String
    public var size: UInt64

    enum CodingKeys: String, CodingKey { case digest = "d", url = "u", size = "n" }

    public init(digest: ResourceDigest, url: String, size: UInt64) {
        self.digest = digest
        self.url = url
        self.size = size
    }
}

/// `have` (peer → server, type 9): the peer now holds these resources.
public struct Have: WireBody {
    public var holdings: [Holding]

    enum CodingKeys: String, CodingKey { case holdings = "h" }

    public init(holdings: [Holding]) { self.holdings = holdings }

    public func validate(_ limits: WireLimits) throws(WireError) {
        try limits.check(count: holdings.count, max: limits.maxListCount, "have.holdings")
        for holding in holdings { try limits.check(holding.url, max: limits.maxURLLength, "have.url") }
    }
}

/// `drop` (peer → server, type 10): the peer no longer holds these resources.
public struct Drop: WireBody {
    public var digests: [ResourceDigest]

    enum CodingKeys: String, CodingKey { case digests = "d" }

    public init(digests: [ResourceDigest]) { self.digests = digests }

    public func validate(_ limits: WireLimits) throws(WireError) {
        try limits.check(count: digests.count, max: limits.maxListCount, "drop.digests")
    }
}

/// `who-has` (peer → server, type 11): name up to `limit` holders of a resource, by
/// digest or by URL (at least one).
public struct WhoHas: WireBody {
    public var requestID: UInt32
    public var digest: ResourceDigest?
    public var url: String?
    public var limit: Int

    enum CodingKeys: String, CodingKey { case requestID = "q", digest = "d", url = "u", limit = "n" }

    public init(requestID: UInt32, digest: ResourceDigest? = nil, url: String? = nil, limit: Int) {
        self.requestID = requestID
        self.digest = digest
        self.url = url
        self.limit = limit
    }

    public func validate(_ limits: WireLimits) throws(WireError) {
        guard digest != nil || url != nil else { throw WireError(.invalidField, "who-has needs a digest or a url") }
        try limits.check(url, max: limits.maxURLLength, "who-has.url")
        guard (1...limits.maxPeerCount).contains(limit) else {
            throw WireError(.invalidField, "who-has.limit \(limit) not in 1...\(limits.maxPeerCount)")
        }
    }
}

/// `holders` (server → peer, type 12): the answer to `who-has`, best pairing score first.
public struct Holders: WireBody {
    public var requestID: UInt32
    /// The digest the holders hold (resolved from the URL when asked by URL).
    public var digest: ResourceDigest?
    public var peers: [PeerID]

    enum CodingKeys: String, CodingKey { case requestID = "q", digest = "d", peers = "p" }

    public init(requestID: UInt32, digest: ResourceDigest?, peers: [PeerID]) {
        self.requestID = requestID
        self.digest = digest
        self.peers = peers
    }

    public func validate(_ limits: WireLimits) throws(WireError) {
        try limits.check(count: peers.count, max: limits.maxListCount, "holders.peers")
    }
}

/// `vouch` (peer → server, type 13): ask the server for the trusted SHA-256 of a URL.
public struct Vouch: WireBody {
    public var requestID: UInt32
    public var url: String

    enum CodingKeys: String, CodingKey { case requestID = "q", url = "u" }

    public init(requestID: UInt32, url: String) {
        self.requestID = requestID
        self.url = url
    }

    public func validate(_ limits: WireLimits) throws(WireError) {
        try limits.check(url, max: limits.maxURLLength, "vouch.url")
    }
}

/// `vouched` (server → peer, type 14): the digest the server computed for a URL, its size,
/// and — from servers that compute it — the root of its piece tree (``PieceTree``) over
/// pieces of `pieceSize` bytes. Older servers send no root and older peers skip the keys.
public struct Vouched: WireBody {
    public var requestID: UInt32
    public var url: String
    public var digest: ResourceDigest
    public var size: UInt64
    public var pieceRoot: ResourceDigest?
    public var pieceSize: UInt32?

    enum CodingKeys: String, CodingKey {
        case requestID = "q", url = "u", digest = "d", size = "n", pieceRoot = "r", pieceSize = "p"
    }

    public init(requestID: UInt32, url: String, digest: ResourceDigest, size: UInt64, pieceRoot: ResourceDigest? = nil, pieceSize: UInt32? = nil) {
        self.requestID = requestID
        self.url = url
        self.digest = digest
        self.size = size
        self.pieceRoot = pieceRoot
        self.pieceSize = pieceSize
    }

    public func validate(_ limits: WireLimits) throws(WireError) {
        try limits.check(url, max: limits.maxURLLength, "vouched.url")
        // A root comes with its piece size: a power-of-two number of 16 KiB leaves.
        guard (pieceRoot == nil) == (pieceSize == nil) else { throw WireError(.invalidField, "vouched: r and p come together") }
        if let pieceSize {
            let leaves = pieceSize / 16_384
            guard pieceSize % 16_384 == 0, leaves.nonzeroBitCount == 1 else {
                throw WireError(.invalidField, "vouched.p: \(pieceSize) is not a power-of-two number of 16 KiB leaves")
            }
        }
    }
}

/// `report` (peer → server, type 18): what the peer's fetches and uploads added up to since
/// it started, for the server's statistics and dashboard. Counters only grow; the server
/// adds the difference from the previous report.
public struct DeliveryReport: WireBody {
    /// Resource bytes this peer fetched from origins.
    public var fromOrigin: UInt64
    /// Resource bytes this peer fetched from peers.
    public var fromPeers: UInt64
    /// Resource bytes this peer served to peers.
    public var served: UInt64
    /// Of ``served``, the bytes that went over links through a TURN relay (what the
    /// operator's TURN server carried); absent from older peers (0).
    public var servedRelayed: UInt64

    enum CodingKeys: String, CodingKey { case fromOrigin = "o", fromPeers = "p", served = "s", servedRelayed = "r" }

    public init(fromOrigin: UInt64, fromPeers: UInt64, served: UInt64, servedRelayed: UInt64 = 0) {
        self.fromOrigin = fromOrigin
        self.fromPeers = fromPeers
        self.served = served
        self.servedRelayed = servedRelayed
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        fromOrigin = try container.decode(UInt64.self, forKey: .fromOrigin)
        fromPeers = try container.decode(UInt64.self, forKey: .fromPeers)
        served = try container.decode(UInt64.self, forKey: .served)
        servedRelayed = try container.decodeIfPresent(UInt64.self, forKey: .servedRelayed) ?? 0
    }
}
