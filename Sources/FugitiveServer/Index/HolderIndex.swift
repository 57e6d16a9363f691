import FugitiveWire

/// Who holds what, within one swarm: digest → holders, URL → digest, and each peer's
/// holdings so that a departing peer is removed in time proportional to what it held.
/// Memory is bounded by the per-peer announcement limit the caller enforces.
public struct HolderIndex: Sendable {
    private var holders: [ResourceDigest: Set<PeerID>] = [:]
    private var digestByURL: [String: ResourceDigest] = [:]
    private var urlByDigest: [ResourceDigest: String] = [:]
    private var holdings: [PeerID: Set<ResourceDigest>] = [:]

    public init() {}

    /// Records that `peer` holds `holding`.
    public mutating func add(_ holding: Holding, holder peer: PeerID) {
        holders[holding.digest, default: []].insert(peer)
        holdings[peer, default: []].insert(holding.digest)
        digestByURL[holding.url] = holding.digest
        urlByDigest[holding.digest] = holding.url
    }

    /// Records that `peer` no longer holds `digest`.
    public mutating func remove(_ digest: ResourceDigest, holder peer: PeerID) {
        holdings[peer]?.remove(digest)
        guard var set = holders[digest] else { return }
        set.remove(peer)
        if set.isEmpty {
            holders[digest] = nil
            if let url = urlByDigest.removeValue(forKey: digest), digestByURL[url] == digest { digestByURL[url] = nil }
        } else {
            holders[digest] = set
        }
    }

    /// Forgets everything `peer` announced.
    public mutating func removeAll(of peer: PeerID) {
        for digest in holdings.removeValue(forKey: peer) ?? [] { remove(digest, holder: peer) }
    }

    /// The holders of a digest (or of the digest last announced for a URL).
    public func holders(of digest: ResourceDigest?, url: String?) -> (digest: ResourceDigest?, peers: Set<PeerID>) {
        guard let resolved = digest ?? url.flatMap({ digestByURL[$0] }) else { return (nil, []) }
        return (resolved, holders[resolved] ?? [])
    }

    /// Whether `peer` holds `digest`.
    public func holds(_ peer: PeerID, _ digest: ResourceDigest) -> Bool { holders[digest]?.contains(peer) ?? false }

    /// Number of distinct resources with at least one holder.
    public var resourceCount: Int { holders.count }

    /// The `count` resources with the most holders, most first, ties by digest (one pass
    /// keeping the best `count`, comparing integers and digest bytes: no sort of the whole
    /// index, no strings). Meant to run on a copy of the index, outside the orchestrator's lock.
    public func mostHeld(_ count: Int) -> [(digest: ResourceDigest, url: String?, holders: Int)] {
        guard count > 0 else { return [] }
        func before(_ a: (ResourceDigest, Int), _ b: (ResourceDigest, Int)) -> Bool {
            a.1 != b.1 ? a.1 > b.1 : a.0.bytes.lexicographicallyPrecedes(b.0.bytes)
        }
        var best: [(ResourceDigest, Int)] = []
        best.reserveCapacity(count + 1)
        for (digest, peers) in holders {
            let entry = (digest, peers.count)
            if best.count == count, let last = best.last, !before(entry, last) { continue }
            let position = best.firstIndex { before(entry, $0) } ?? best.endIndex
            best.insert(entry, at: position)
            if best.count > count { best.removeLast() }
        }
        return best.map { (digest: $0.0, url: urlByDigest[$0.0], holders: $0.1) }
    }
}
