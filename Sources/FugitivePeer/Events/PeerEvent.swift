import FugitiveWire

/// What happens in a peer, for the CLI, the demo and the dashboard: the components (links,
/// fetches) report it, the ``Peer`` passes it on.
public enum PeerEvent: Sendable, Hashable {
    /// The server let this peer in (again), under `id`.
    case joined(id: PeerID, server: String)
    /// The connection to the server went; links stay up meanwhile.
    case leftServer(reason: String)
    /// A WebRTC link to a peer opened; `route` says whether it is direct or through TURN,
    /// `setup` how long it took from the server's `pair` to the open data channel.
    case linked(peer: PeerID, roundTrip: Duration?, route: LinkRoute?, setup: Duration)
    /// A link closed, or was dropped.
    case unlinked(peer: PeerID, reason: String)
    /// A fetch finished.
    case fetched(url: String, source: ResourceSource, bytes: Int, duration: Duration)
    /// An upload to a peer finished (`transferredBytes` < `bytes` when deflated);
    /// `relayed` when the link goes through a TURN relay.
    case served(peer: PeerID, digest: ResourceDigest, bytes: Int, transferredBytes: Int, relayed: Bool)
    /// A peer was caught lying, or replaced for failing or being slow.
    case penalised(peer: PeerID, reason: String)
}
