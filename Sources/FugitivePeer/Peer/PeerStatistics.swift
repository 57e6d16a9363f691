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
    /// Of ``bytesServed``, what went over links through a TURN relay.
    public var bytesServedRelayed = 0
    public var uploads = 0
    /// Peers caught sending bytes that did not match the digest.
    public var liarsCaught = 0
    /// Links open now.
    public var links = 0

    public init() {}
}
