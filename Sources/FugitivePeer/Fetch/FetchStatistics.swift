/// The fetch pipeline's own counters; the ``Peer`` composes them into ``PeerStatistics``.
struct FetchStatistics: Sendable, Hashable {
    var fetches = 0
    /// Fetches by source kind: `memory`, `disk`, `peer`, `origin`.
    var fetchesBySource: [String: Int] = [:]
    var bytesFromStore = 0
    var bytesFromPeers = 0
    var bytesFromOrigin = 0
}
