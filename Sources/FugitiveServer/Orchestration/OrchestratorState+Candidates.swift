import FugitiveWire

/// A swarm and one of its networks (a /24 or /16 key from ``NetworkAddress``).
struct NetworkBucket: Hashable, Sendable {
    let swarm: String
    let network: [UInt8]
}

extension OrchestratorState {
    /// How many open peers pairing looks at per tier (same /24, same /16, whole swarm).
    static let sampleSize = 32

    /// Keeps the open-peer indexes in step with a peer's free slots. Call after any
    /// change to its pending pairs, links or existence.
    mutating func reindex(_ id: PeerID) {
        guard let session = sessions[id] else { return }
        mark(session, open: session.freeSlots > 0)
        if instance != nil { journal.touch(id) }
    }

    /// Removes a peer from the open-peer indexes (before its session goes).
    mutating func forget(_ id: PeerID) {
        guard let session = sessions[id] else { return }
        mark(session, open: false)
    }

    private mutating func mark(_ session: Session, open isOpen: Bool) {
        // In place: copying a set out of the dictionary would copy its storage each time.
        func update(_ set: inout OpenPeerSet?) {
            if isOpen {
                if set == nil { set = OpenPeerSet() }
                set!.insert(session.id)
            } else {
                set?.remove(session.id)
                if set?.isEmpty == true { set = nil }
            }
        }
        update(&open[session.swarm])
        for key in buckets(of: session) { update(&openByNetwork[key]) }
    }

    func buckets(of session: Session) -> [NetworkBucket] {
        guard let keys = session.address?.networkKeys else { return [] }
        return [NetworkBucket(swarm: session.swarm, network: keys.near), NetworkBucket(swarm: session.swarm, network: keys.mid)]
    }

    /// The peers worth ranking for `asker`: every peer it has measured, holders of what
    /// it wants, and a sample of open peers from its /24, its /16 and the whole swarm —
    /// nearest first, so the sample never hides a closer peer behind a farther one.
    /// Peers it cannot take (partners, full) are skipped while sampling; a tier where most
    /// open peers are already the asker's partners costs at most its size.
    /// Bounded by a few times ``sampleSize`` whatever the swarm's size.
    func pairingCandidates(for id: PeerID, wanted: [ResourceDigest], now: Instant) -> [PairingPolicy.Candidate] {
        guard let asker = sessions[id] else { return [] }
        var seen: Set<PeerID> = [id]
        var ids: [PeerID] = []
        func take(_ peer: PeerID) -> Bool {
            guard seen.insert(peer).inserted, !asker.isPartner(peer), let other = sessions[peer], other.freeSlots > 0,
                other.swarm == asker.swarm, !asker.cannotReach(peer, now: now)
            else { return false }
            ids.append(peer)
            return true
        }
        for peer in measured[id] ?? [] { _ = take(peer) }
        let index = indexes[asker.swarm]
        for digest in wanted.prefix(Self.sampleSize) {
            var taken = 0
            for peer in index?.holders(of: digest, url: nil).peers ?? [] {
                if take(peer) { taken += 1 }
                if taken == Self.sampleSize { break }
            }
        }
        // Random starting points spread new pairs over the swarm; the ranking then
        // prefers the sampled peers with the most free slots.
        var generator = SystemRandomNumberGenerator()
        let tiers = buckets(of: asker).map { openByNetwork[$0] ?? OpenPeerSet() } + [open[asker.swarm] ?? OpenPeerSet()]
        for tier in tiers {
            var taken = 0
            tier.visitFromRandomStart(using: &generator) { peer in
                if take(peer) { taken += 1 }
                return taken < Self.sampleSize
            }
        }
        return ids.compactMap { peer in
            guard let other = sessions[peer] else { return nil }
            let held = wanted.reduce(0) { $0 + ((index?.holds(peer, $1) ?? false) ? 1 : 0) }
            return .init(
                id: peer, address: other.address, freeSlots: other.freeSlots, rttMillis: rtts[PeerPair(id, peer)],
                predictedMillis: predictedRoundTrip(asker, other), wantedHeld: held)
        }
    }

    /// Most peers one session remembers it could not reach (the soonest to expire makes room).
    static let unreachableMemory = 32

    /// A pair of `a` and `b` could not connect: neither is paired with the other again
    /// before ``Configuration/unreachableRetry`` has passed.
    mutating func noteUnreachable(_ a: PeerID, _ b: PeerID, now: Instant) {
        let until = now + configuration.unreachableRetry
        for (one, other) in [(a, b), (b, a)] {
            guard let index = sessions.index(forKey: one) else { continue }
            sessions.values[index].unreachable = sessions.values[index].unreachable.filter { $0.value > now }
            if sessions.values[index].unreachable.count >= Self.unreachableMemory, sessions.values[index].unreachable[other] == nil,
                let soonest = sessions.values[index].unreachable.min(by: { $0.value < $1.value })?.key
            {
                sessions.values[index].unreachable[soonest] = nil
            }
            sessions.values[index].unreachable[other] = until
        }
    }

    /// Records a measured RTT between two peers.
    mutating func measure(_ a: PeerID, _ b: PeerID, millis: Double) {
        // Only between sessions that are here (or on another instance): a link kept for a
        // parked session still reports round trips, and a measurement of a session that is
        // gone would outlive it (its measurements went when it parked), and make a pairing
        // candidate of whoever next had its id.
        guard sessions[a] != nil || remotes[a] != nil, sessions[b] != nil || remotes[b] != nil else { return }
        rtts[PeerPair(a, b)] = millis
        measured[a, default: []].insert(b)
        measured[b, default: []].insert(a)
        place(a, b, millis: millis)
    }
}
