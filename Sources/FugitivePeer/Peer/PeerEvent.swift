import FugitiveWire

/// What happens in a peer, for the CLI, the demo and the dashboard.
public enum PeerEvent: Sendable, Hashable {
    /// The server let this peer in (again), under `id`.
    case joined(id: PeerID, server: String)
    /// The connection to the server went; links stay up meanwhile.
    case leftServer(reason: String)
    /// A WebRTC link to a peer opened.
    case linked(peer: PeerID, roundTrip: Duration?)
    /// A link closed, or was dropped.
    case unlinked(peer: PeerID, reason: String)
    /// A fetch finished.
    case fetched(url: String, source: ResourceSource, bytes: Int, duration: Duration)
    /// An upload to a peer finished (`transferredBytes` < `bytes` when deflated).
    case served(peer: PeerID, digest: ResourceDigest, bytes: Int, transferredBytes: Int)
    /// A peer was caught lying, or replaced for failing or being slow.
    case penalised(peer: PeerID, reason: String)
}

/// A peer's counters since it started.
public struct PeerStatistics: Sendable, Hashable {
    public var fetches = 0
    /// Fetches by source kind: `memory`, `disk`, `peer`, `origin`.
    public var fetchesBySource: [String: Int] = [:]
    public var bytesFromStore = 0
    public var bytesFromPeers = 0
    public var bytesFromOrigin = 0
    /// Resource bytes served to peers, and what crossed the channels for them.
    public var bytesServed = 0
    public var bytesServedOnTheWire = 0
    public var uploads = 0
    /// Peers caught sending bytes that did not match the digest.
    public var liarsCaught = 0
    /// Links open now.
    public var links = 0

    public init() {}
}
