/// `want` (peer → server, type 3): ask for up to `count` new partners.
public struct Want: WireBody {
    public var count: Int
    /// Resources the peer wants, so that holders can be preferred.
    public var digests: [ResourceDigest]?
    /// Peers to pair with first when they can take a partner — holders that `who-has`
    /// named, for a fetch that no linked peer can serve (tier 2).
    public var peers: [PeerID]?

    enum CodingKeys: String, CodingKey { case count = "n", digests = "d", peers = "p" }

    public init(count: Int, digests: [ResourceDigest]? = nil, peers: [PeerID]? = nil) {
        self.count = count
        self.digests = digests
        self.peers = peers
    }

    public func validate(_ limits: WireLimits) throws(WireError) {
        guard (1...limits.maxPeerCount).contains(count) else {
            throw WireError(.invalidField, "want.count \(count) not in 1...\(limits.maxPeerCount)")
        }
        try limits.check(count: digests?.count ?? 0, max: limits.maxListCount, "want.digests")
        try limits.check(count: peers?.count ?? 0, max: limits.maxPeerCount, "want.peers")
        for peer in peers ?? [] { try limits.check(peer.rawValue, max: limits.maxTextLength, "want.peers") }
    }
}

/// `pair` (server → peer, type 4): connect to `peer`; the side with `offerer` makes the offer.
public struct Pair: WireBody {
    public var peer: PeerID
    public var offerer: Bool

    enum CodingKeys: String, CodingKey { case peer = "p", offerer = "o" }

    public init(peer: PeerID, offerer: Bool) {
        self.peer = peer
        self.offerer = offerer
    }
}

/// `unpair` (server → peer, type 5): the pair with `peer` is dropped (e.g. it did not
/// report `connected` in time); forget its signalling state.
public struct Unpair: WireBody {
    public var peer: PeerID
    public var reason: WireErrorCode

    enum CodingKeys: String, CodingKey { case peer = "p", reason = "c" }

    public init(peer: PeerID, reason: WireErrorCode) {
        self.peer = peer
        self.reason = reason
    }
}

/// What a `signal` carries.
public enum SignalKind: UInt8, Codable, Hashable, Sendable {
    case offer = 1
    case answer = 2
    case candidate = 3
    case endOfCandidates = 4
}

/// `signal` (either side, type 6): WebRTC signalling, relayed only between partners.
/// From a peer, `peer` is the destination; from the server, it is the source.
public struct Signal: WireBody {
    public var peer: PeerID
    public var kind: SignalKind
    /// The SDP of an offer or answer.
    public var sdp: String?
    /// An ICE candidate line (`candidate:…`), for `candidate`.
    public var candidate: String?
    /// The media id the candidate belongs to.
    public var mid: String?

    enum CodingKeys: String, CodingKey { case peer = "p", kind = "k", sdp = "s", candidate = "c", mid = "m" }

    public init(peer: PeerID, kind: SignalKind, sdp: String? = nil, candidate: String? = nil, mid: String? = nil) {
        self.peer = peer
        self.kind = kind
        self.sdp = sdp
        self.candidate = candidate
        self.mid = mid
    }

    public func validate(_ limits: WireLimits) throws(WireError) {
        try limits.check(peer.rawValue, max: limits.maxTextLength, "signal.peer")
        try limits.check(sdp, max: limits.maxSDPLength, "signal.sdp")
        try limits.check(candidate, max: limits.maxCandidateLength, "signal.candidate")
        try limits.check(mid, max: limits.maxCandidateLength, "signal.mid")
        switch kind {
        case .offer, .answer:
            guard sdp != nil else { throw WireError(.invalidField, "signal \(kind) without sdp") }
        case .candidate:
            guard candidate != nil else { throw WireError(.invalidField, "signal candidate without candidate") }
        case .endOfCandidates: break
        }
    }
}

/// The state of a WebRTC link as a peer reports it.
public enum LinkState: UInt8, Codable, Hashable, Sendable {
    case connected = 1
    case disconnected = 2
    case failed = 3
}

/// `link` (peer → server, type 7): a link to `peer` changed state; `rttMillis` when measured.
public struct LinkReport: WireBody {
    public var peer: PeerID
    public var state: LinkState
    public var rttMillis: Double?
    /// The candidate pair ICE selected for the link, once connected.
    public var route: LinkRoute?

    enum CodingKeys: String, CodingKey { case peer = "p", state = "s", rttMillis = "r", route = "c" }

    public init(peer: PeerID, state: LinkState, rttMillis: Double? = nil, route: LinkRoute? = nil) {
        self.peer = peer
        self.state = state
        self.rttMillis = rttMillis
        self.route = route
    }

    public func validate(_ limits: WireLimits) throws(WireError) {
        if let rttMillis, !(rttMillis.isFinite && rttMillis >= 0) {
            throw WireError(.invalidField, "link.rtt \(rttMillis) is not a finite non-negative number")
        }
    }
}

/// How a link's packets travel: the types of the candidate pair ICE selected (RFC 8445
/// §5.1.1). A link through a TURN server (either end `relay`) costs its operator bandwidth.
public struct LinkRoute: Codable, Hashable, Sendable {
    /// A candidate's type.
    public enum Kind: String, Codable, Hashable, Sendable, CaseIterable {
        /// An address of the peer's own interface.
        case host
        /// The address a STUN server saw (the NAT's outside).
        case srflx
        /// An address learned from a connectivity check.
        case prflx
        /// An address on a TURN server.
        case relay
    }

    public var local: Kind
    public var remote: Kind

    enum CodingKeys: String, CodingKey { case local = "l", remote = "m" }

    public init(local: Kind, remote: Kind) {
        self.local = local
        self.remote = remote
    }

    /// Whether a TURN server carries the link.
    public var isRelayed: Bool { local == .relay || remote == .relay }
}

/// `peer-left` (server → peer, type 8): a partner's session ended.
public struct PeerLeft: WireBody {
    public var peer: PeerID

    enum CodingKeys: String, CodingKey { case peer = "p" }

    public init(peer: PeerID) { self.peer = peer }
}
