import FugitiveWire
import Synchronization

extension FetchPipeline {
    /// Asks peers for `digest`: the holders the server names that are linked, else every
    /// linked peer (tier 1); if none of those can serve it but the server named holders,
    /// links to one of them (tier 2). New requests stop at `until`; a transfer under way
    /// may run on to `deadline` as long as it does not stall.
    /// `size`, when known from the origin, is what every head must announce.
    /// `knownHolders`: holders the server already named for this digest (asked by URL
    /// while the digest was being established); the server is asked by digest otherwise.
    func peerPhase(
        _ url: String, digest: ResourceDigest, knownHolders: [PeerID]? = nil, size: Int? = nil, until: ContinuousClock.Instant,
        deadline: ContinuousClock.Instant, progress: FetchProgress.Reporter? = nil
    ) async -> (PeerID, PeerDownload)? {
        let limits = TransferLimits(expectedSize: size, stallTimeout: configuration.stallTimeout, deadline: deadline)
        let whoHasTimeout = min(configuration.serverTimeout, until - .now)
        var holders: [PeerID] = []
        if whoHasTimeout > .zero {
            // What the fetch asks the server for, the next `want` prefers (as before the split).
            swarm.noteWanted(digest)
            if let knownHolders {
                holders = knownHolders
            } else {
                holders = await directory.holders(of: digest, timeout: whoHasTimeout)
            }
            holders = holders.filter { !swarm.isLiar($0, for: digest) }
        }
        let linkedPeers = swarm.linkedPeers()
        let linked = linkedPeers.filter { !swarm.isLiar($0, for: digest) && !swarm.isBenched($0) }
        let linkedHolders = holders.filter(linked.contains)
        var tried: Set<PeerID> = []
        var candidates = linkedHolders.isEmpty ? linked : linkedHolders
        while !candidates.isEmpty, ContinuousClock.now < until, !Task.isCancelled {
            let round = await race(url, digest: digest, among: candidates, until: until, limits: limits, progress: progress)
            if let found = round.found { return found }
            tried.formUnion(round.done)
            // Those that lost the race hold it: they are next, should the winner fail.
            candidates = round.lost.filter { !tried.contains($0) }
        }
        // Tier 2: a holder the server knows that this peer is not linked to yet.
        let unlinked = holders.filter { !linkedPeers.contains($0) && !tried.contains($0) && !swarm.isBenched($0) }
        let left = min(configuration.tier2Timeout, until - .now)
        guard !unlinked.isEmpty, left > .zero, !Task.isCancelled,
            let peer = await swarm.link(toOneOf: unlinked, holding: digest, timeout: left)
        else { return nil }
        return await race(
            url, digest: digest, among: [peer], until: min(deadline, max(until, .now + configuration.stallTimeout)), limits: limits,
            progress: progress
        ).found
    }

    struct RaceRound {
        var found: (PeerID, PeerDownload)?
        /// Peers that answered and are out of this fetch (miss, busy, failed, lied).
        var done: Set<PeerID> = []
        /// Peers that had it but lost to the winner.
        var lost: [PeerID] = []
    }

    /// Requests `digest` from every candidate at once; the first response head wins and
    /// the others are cancelled (they are told `cancel`).
    private func race(
        _ url: String, digest: ResourceDigest, among candidates: [PeerID], until: ContinuousClock.Instant, limits: TransferLimits,
        progress: FetchProgress.Reporter?
    ) async -> RaceRound {
        let claimed = ClaimFlag()
        let deadline = limits.deadline
        return await withTaskGroup(of: (PeerID, Result<PeerDownload, PeerLinkError>)?.self) { group in
            for peer in candidates {
                group.addTask {
                    do throws(PeerLinkError) {
                        let download = try await self.swarm.download(
                            digest, url: url, from: peer, limits: limits, progress: progress
                        ) { _ in claimed.claim(for: peer) }
                        return (peer, .success(download))
                    } catch {
                        return (peer, .failure(error))
                    }
                }
            }
            group.addTask {
                // Until a head is claimed the round ends at `until`; after, at `deadline`
                // (the winner's stall watchdog ends it sooner if it goes quiet).
                while !Task.isCancelled {
                    let limit = claimed.isClaimed ? deadline : until
                    if ContinuousClock.now >= limit { return nil }
                    try? await Task.sleep(for: min(.milliseconds(50), limit - .now))
                }
                return nil
            }
            var round = RaceRound()
            var pending = candidates.count
            while pending > 0, let next = await group.next() {
                guard let (peer, result) = next else {
                    // Out of time. A winner still sending ran out of the peers' time: that
                    // counts against it (its own watchdog normally ends it first).
                    if let winner = claimed.winner { swarm.record(.tooSlow, peer: winner, digest: digest) }
                    break
                }
                pending -= 1
                switch result {
                case .success(let download):
                    swarm.record(.succeeded, peer: peer, digest: digest)
                    round.found = (peer, download)
                    group.cancelAll()
                    return round
                case .failure(let error) where error.code == .lostRace:
                    round.lost.append(peer)
                case .failure(let error):
                    round.done.insert(peer)
                    if error.code == .corrupted {
                        swarm.record(.corrupted, peer: peer, digest: digest)
                    } else if error.code == .tooSlow {
                        swarm.record(.tooSlow, peer: peer, digest: digest)
                    } else if ![.miss, .busy, .cancelled, .overBudget].contains(error.code) {
                        swarm.record(.failed, peer: peer, digest: digest)
                    }
                    logger.debug("peer transfer failed", metadata: ["peer": "\(peer)", "error": "\(error)"])
                    // The winner failed: its rivals were told to stop; they go next round.
                    if claimed.winner == peer { claimed.reset() }
                }
            }
            group.cancelAll()
            return round
        }
    }
}

/// The first response head of a race: exactly one claim succeeds until it is reset.
final class ClaimFlag: Sendable {
    private let claimant = Mutex<PeerID?>(nil)

    func claim(for peer: PeerID) -> Bool {
        claimant.withLock { claimant in
            guard claimant == nil else { return false }
            claimant = peer
            return true
        }
    }

    var isClaimed: Bool { winner != nil }
    var winner: PeerID? { claimant.withLock { $0 } }
    /// The winner failed: the next head may claim.
    func reset() { claimant.withLock { $0 = nil } }
}
