import FugitiveWire

/// What a transfer from a peer turned out to be, for the peer's standing.
enum PeerOutcome: Sendable, Hashable {
    case succeeded
    /// Stalled, closed or broke the protocol: counts towards replacing the link.
    case failed
    /// Sent bytes that do not hash to the digest: never asked for it again, link dropped.
    case corrupted
    /// Moved too slowly to finish in time: a failure, and not asked again for a while.
    case tooSlow
}

/// What bounds one transfer from a peer.
struct TransferLimits: Sendable {
    /// The resource's size when known elsewhere (a head announcing another is refused).
    var expectedSize: Int?
    var stallTimeout: Duration
    /// When the transfer must be complete: the rest of the fetch's time is the origin's.
    var deadline: ContinuousClock.Instant
}

/// What the server vouches for a URL: the digest of the bytes it fetched, and their size —
/// a size the peer phase holds every `head` to, as it does the origin's `Content-Length`.
struct VouchedResource: Sendable, Hashable {
    var digest: ResourceDigest
    var size: Int?
}

/// The server's directory as the fetch pipeline asks it. The real one is
/// ``ServerQueries`` on the server link; unit tests give the pipeline an in-memory one.
protocol ServerDirectory: Sendable {
    /// Holders of `digest` the server knows, best first; empty when it cannot say in time.
    func holders(of digest: ResourceDigest, timeout: Duration) async -> [PeerID]
    /// Holders of what peers announced under `url` and the digest most of them announced
    /// (a hint, never trusted by itself); no digest when the server knows none in time.
    func holders(announcedFor url: String, timeout: Duration) async -> URLHolders
    /// The digest the server vouches for `url` and the size of the bytes it hashed, if it can.
    func vouch(_ url: String, timeout: Duration) async -> VouchedResource?
    /// Tells the server this peer now holds a resource.
    func announce(_ holding: Holding)
}

extension ServerQueries: ServerDirectory {}

/// The peer's links as the fetch pipeline sees them. The real one is the peer's
/// ``LinkManager``; unit tests give the pipeline an in-memory one.
protocol PeerSwarm: Sendable {
    /// Remembers that a fetch wants `digest`: new links prefer its holders.
    func noteWanted(_ digest: ResourceDigest)
    /// Peers with an open link, best first.
    func linkedPeers() -> [PeerID]
    /// Downloads `digest` from a linked peer (see
    /// ``PeerLink/fetch(_:url:expectedSize:stallTimeout:deadline:progress:claim:)``).
    func download(
        _ digest: ResourceDigest, url: String, from peer: PeerID, limits: TransferLimits, progress: FetchProgress.Reporter?,
        claim: @escaping @Sendable (ResponseHead) -> Bool
    ) async throws(PeerLinkError) -> PeerDownload
    /// Links to one of `holders` (tier 2); the peer it linked to, or `nil`.
    func link(toOneOf holders: [PeerID], holding digest: ResourceDigest, timeout: Duration) async -> PeerID?
    /// Whether `peer` lied about `digest` before.
    func isLiar(_ peer: PeerID, for digest: ResourceDigest) -> Bool
    /// Whether `peer` was too slow lately and is not to be asked for now.
    func isBenched(_ peer: PeerID) -> Bool
    /// Records how a transfer from `peer` went.
    func record(_ outcome: PeerOutcome, peer: PeerID, digest: ResourceDigest)
}

extension LinkManager: PeerSwarm {
    func linkedPeers() -> [PeerID] { openLinks().map(\.peer) }

    func download(
        _ digest: ResourceDigest, url: String, from peer: PeerID, limits: TransferLimits, progress: FetchProgress.Reporter?,
        claim: @escaping @Sendable (ResponseHead) -> Bool
    ) async throws(PeerLinkError) -> PeerDownload {
        guard let link = link(to: peer) else { throw PeerLinkError(.closed, "no link to \(peer)") }
        return try await link.fetch(
            digest, url: url, expectedSize: limits.expectedSize, stallTimeout: limits.stallTimeout, deadline: limits.deadline,
            progress: progress, claim: claim)
    }

    func link(toOneOf holders: [PeerID], holding digest: ResourceDigest, timeout: Duration) async -> PeerID? {
        await connect(toOneOf: holders, holding: digest, timeout: timeout)?.peer
    }

    func record(_ outcome: PeerOutcome, peer: PeerID, digest: ResourceDigest) {
        switch outcome {
        case .succeeded: succeeded(peer)
        case .failed: failed(peer)
        case .corrupted: caughtLying(peer, digest: digest)
        case .tooSlow: tooSlow(peer)
        }
    }
}
