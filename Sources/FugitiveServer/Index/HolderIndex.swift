import FugitiveWire

/// Who holds what, within one swarm: digest → holders, URL → the digests announced under
/// it (with how many holders announced each), and each peer's holdings so that a departing
/// peer is removed in time proportional to what it held. A URL resolves to the digest most
/// holders announced for it: one liar neither replaces an honest holder's entry nor, when
/// it leaves, takes that entry with it. Memory is bounded by the announcement limits the
/// caller enforces.
public struct HolderIndex: Sendable {
    private var holders: [ResourceDigest: Set<PeerID>] = [:]
    private var digestsByURL: [String: [ResourceDigest: Int]] = [:]
    private var urlByDigest: [ResourceDigest: String] = [:]
    /// Each peer's holdings, with the URL it announced each under.
    private var holdings: [PeerID: [ResourceDigest: String]] = [:]

    public init() {}

    /// Records that `peer` holds `holding`.
    public mutating func add(_ holding: Holding, holder peer: PeerID) {
        if let previous = holdings[peer]?[holding.digest] {
            guard previous != holding.url else { return }
            forget(url: previous, digest: holding.digest)
        }
        holders[holding.digest, default: []].insert(peer)
        holdings[peer, default: [:]][holding.digest] = holding.url
        digestsByURL[holding.url, default: [:]][holding.digest, default: 0] += 1
        if urlByDigest[holding.digest] == nil { urlByDigest[holding.digest] = holding.url }
    }

    /// Records that `peer` no longer holds `digest`.
    public mutating func remove(_ digest: ResourceDigest, holder peer: PeerID) {
        guard let url = holdings[peer]?.removeValue(forKey: digest) else { return }
        if holdings[peer]?.isEmpty == true { holdings[peer] = nil }
        forget(url: url, digest: digest)
        guard var set = holders[digest] else { return }
        set.remove(peer)
        if set.isEmpty {
            holders[digest] = nil
            urlByDigest[digest] = nil
        } else {
            holders[digest] = set
        }
    }

    private mutating func forget(url: String, digest: ResourceDigest) {
        guard var counts = digestsByURL[url] else { return }
        counts[digest, default: 1] -= 1
        if counts[digest]! <= 0 { counts[digest] = nil }
        digestsByURL[url] = counts.isEmpty ? nil : counts
        if urlByDigest[digest] == url, counts[digest] == nil {
            // Another holder's URL for it, if any is left, names it from now on.
            urlByDigest[digest] = nil
        }
    }

    /// Forgets everything `peer` announced.
    public mutating func removeAll(of peer: PeerID) {
        for digest in holdings[peer]?.keys.map({ $0 }) ?? [] { remove(digest, holder: peer) }
    }

    /// The holders of a digest (or of the digest most holders announced for a URL; ties go
    /// to the smaller digest, so the answer does not depend on who announced last).
    public func holders(of digest: ResourceDigest?, url: String?) -> (digest: ResourceDigest?, peers: Set<PeerID>) {
        guard let resolved = digest ?? url.flatMap({ self.digest(for: $0) }) else { return (nil, []) }
        return (resolved, holders[resolved] ?? [])
    }

    func digest(for url: String) -> ResourceDigest? {
        digestsByURL[url]?.max { a, b in a.value != b.value ? a.value < b.value : !a.key.bytes.lexicographicallyPrecedes(b.key.bytes) }?.key
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
