import FugitiveWire

extension OrchestratorState {
    /// Handles one message from a connected peer.
    public mutating func receive(_ message: ServerMessage, from id: PeerID, now: Instant) -> [Action] {
        guard let index = sessions.index(forKey: id) else { return [] }
        sessions.values[index].lastSeen = now
        switch message {
        case .want(let want): return pair(id, want: want, now: now)
        case .signal(let signal): return relay(signal, from: id)
        case .link(let report): return link(report, from: id, now: now)
        case .have(let have): return announce(have, from: id)
        case .drop(let drop):
            for digest in drop.digests { removeHolding(digest, of: id) }
            return []
        case .whoHas(let query):
            if instance != nil { return [.findRemoteHolders(id, query)] }
            return [.send(id, .holders(answer(query, asker: id)))]
        case .vouch(let vouch): return [.vouch(id, vouch)]
        case .report(let report): return record(report, from: id, now: now)
        case .ping(let ping): return [.send(id, .pong(ping))]
        case .pong, .error: return []
        case .hello:
            return [.close(id, WireError(.unexpectedMessage, "hello on an open session"))]
        case .welcome, .pair, .unpair, .peerLeft, .holders, .vouched, .iceServers:
            return [.close(id, WireError(.unexpectedMessage, "only the server sends type \(message.type)"))]
        }
    }

    /// Pairs `id` with up to `want.count` partners (never beyond its own free slots).
    mutating func pair(_ id: PeerID, want: Want, now: Instant) -> [Action] {
        guard var asker = sessions[id] else { return [] }
        var count = min(want.count, asker.freeSlots)
        guard count > 0 else { return [] }
        // Pairs cost the partners' slots: a peer gets a bounded number of them over time.
        var granted = 0
        while granted < count, asker.pairBudget.take(now: now) { granted += 1 }
        sessions[id]?.pairBudget = asker.pairBudget
        count = granted
        guard count > 0 else { return [] }
        // Named peers first (tier 2: a holder the asker needs), when they can be paired —
        // and only holders the server itself gave this asker, so that a peer cannot aim
        // pairs at a victim of its choosing.
        let named = (want.peers ?? []).reduce(into: [PeerID]()) { named, peer in
            guard named.count < count, peer != id, !named.contains(peer), !asker.isPartner(peer), asker.offered.contains(peer),
                !asker.cannotReach(peer, now: now), let session = sessions[peer], session.swarm == asker.swarm, session.freeSlots > 0
            else { return }
            named.append(peer)
        }
        let candidates = pairingCandidates(for: id, wanted: want.digests ?? [], now: now)
        let chosen =
            named.compactMap { sessions[$0] }.map { PairingPolicy.Candidate(id: $0.id, address: $0.address, freeSlots: $0.freeSlots) }
            + policy.choose(count - named.count, asker: id, address: asker.address, excluding: asker.partners.union(named), candidates: candidates)
        var actions: [Action] = []
        if instance != nil, chosen.count < count {
            // Not enough here: other instances may have open peers in the swarm.
            actions.append(.findRemotePartners(id, count: count - chosen.count))
        }
        let deadline = now + configuration.pairTimeout
        for partner in chosen {
            sessions[id]?.pending[partner.id] = PendingPair(deadline: deadline)
            sessions[partner.id]?.pending[id] = PendingPair(deadline: deadline)
            reindex(partner.id)
            actions.append(.send(id, .pair(Pair(peer: partner.id, offerer: true))))
            actions.append(.send(partner.id, .pair(Pair(peer: id, offerer: false))))
        }
        reindex(id)
        return actions
    }

    /// Relays signalling between partners only.
    func relay(_ signal: Signal, from id: PeerID) -> [Action] {
        guard reading(id, { $0.isPartner(signal.peer) }) == true else {
            return [.send(id, .error(ErrorMessage(code: .notPaired, message: "\(signal.peer) is not paired with you")))]
        }
        var relayed = signal
        relayed.peer = id
        if isConnected(signal.peer) { return [.send(signal.peer, .signal(relayed))] }
        guard let remote = remotes[signal.peer], !remote.awaiting.contains(id) else {
            return [.send(id, .error(ErrorMessage(code: .notPaired, message: "\(signal.peer) is not paired with you")))]
        }
        return [.forward(remote.instance, .signal(to: signal.peer, signal: relayed))]
    }

    mutating func link(_ report: LinkReport, from id: PeerID, now: Instant) -> [Action] {
        let other = report.peer
        guard sessions[id]?.isPartner(other) == true else {
            return [.send(id, .error(ErrorMessage(code: .notPaired, message: "\(other) is not paired with you")))]
        }
        // A pair reported failed before it was ever a link could not connect. Not
        // `disconnected`: that is how the end of an earlier link between the two is
        // reported, and it may arrive after the server has paired them again (a resumed
        // session, an instance gone).
        let neverLinked = report.state == .failed && sessions[id]?.pending[other] != nil
        switch report.state {
        case .connected:
            if let route = report.route {
                for (a, b) in [(id, other), (other, id)] {
                    if route.isRelayed { sessions[a]?.relayed.insert(b) } else { sessions[a]?.relayed.remove(b) }
                }
            }
            if sessions[id]?.connected.contains(other) == true {
                // A link both sides confirmed: a fresh round-trip time.
                if let rtt = report.rttMillis { measure(id, other, millis: rtt) }
                return []
            }
            sessions[id]?.pending[other]?.claimed = true
            sessions[other]?.pending[id]?.partnerClaimed = true
            confirmIfBothClaimed(id, other)
            if let rtt = report.rttMillis, sessions[id]?.connected.contains(other) == true { measure(id, other, millis: rtt) }
        case .disconnected, .failed:
            if neverLinked { noteUnreachable(id, other, now: now) }
            for (a, b) in [(id, other), (other, id)] {
                sessions[a]?.pending[b] = nil
                sessions[a]?.connected.remove(b)
                sessions[a]?.relayed.remove(b)
            }
        }
        reindex(id)
        reindex(other)
        guard remotes[other] != nil else {
            guard report.state != .connected else { return [] }
            // The pair is over: both sides hear it (the other would otherwise learn it from
            // a 2001 on its next signal), so that both free the slot.
            let reason: WireErrorCode = neverLinked ? .pairFailed : .linkEnded
            var actions: [Action] = [.send(id, .unpair(Unpair(peer: other, reason: reason)))]
            if sessions[other] != nil { actions.append(.send(other, .unpair(Unpair(peer: id, reason: reason)))) }
            return actions
        }
        let forwarded = forwardLink(report, from: id)
        if report.state != .connected { detach(other, from: id) }
        return forwarded
    }

    /// Turns a pending pair into a link once both sides have claimed it.
    mutating func confirmIfBothClaimed(_ id: PeerID, _ other: PeerID) {
        guard let pair = sessions[id]?.pending[other], pair.claimed, pair.partnerClaimed else { return }
        sessions[id]?.pending[other] = nil
        sessions[id]?.connected.insert(other)
        if sessions[other]?.pending[id] != nil {
            sessions[other]?.pending[id] = nil
            sessions[other]?.connected.insert(id)
        }
    }

    mutating func announce(_ have: Have, from id: PeerID) -> [Action] {
        var refused = 0
        for holding in have.holdings where !addHolding(holding, to: id) { refused += 1 }
        guard refused > 0 else { return [] }
        let message =
            "\(refused) holdings were not recorded: over the limit of \(configuration.holdingsPerPeer) per peer or of the bytes their URLs may take"
        return [.send(id, .error(ErrorMessage(code: .tooManyAnnouncements, message: message)))]
    }

    /// How many holders from recent `holders` answers a session remembers for `want.p`.
    static let offeredMemory = 256

    /// The `holders` answer for `asker`, remembered as offered (so its `want` may name them).
    /// (A cluster's merged answer is noted where it is merged.)
    mutating func answer(_ query: WhoHas, asker: PeerID) -> Holders {
        let answer = holders(query, asker: asker)
        noteOffered(answer.peers, to: asker)
        return answer
    }

    /// Remembers that `peers` were given to `asker` as holders (so its `want` may name them).
    mutating func noteOffered(_ peers: [PeerID], to asker: PeerID) {
        guard let index = sessions.index(forKey: asker), !peers.isEmpty else { return }
        for peer in peers where !sessions.values[index].offered.contains(peer) {
            sessions.values[index].offered.append(peer)
        }
        let excess = sessions.values[index].offered.count - Self.offeredMemory
        if excess > 0 { sessions.values[index].offered.removeFirst(excess) }
    }

    /// Most holders ranked for one who-has beyond the asker's known peers.
    static let holderSample = 256

    /// Holders in the asker's swarm, best pairing score first (capacity does not exclude
    /// a holder here: the asker may already be linked to it).
    func holders(_ query: WhoHas, asker id: PeerID) -> Holders {
        guard let asker = sessions[id] else { return Holders(requestID: query.requestID, digest: query.digest, peers: []) }
        let found = indexes[asker.swarm]?.holders(of: query.digest, url: query.url) ?? (digest: query.digest, peers: [])
        var pool = found.peers
        if pool.count > Self.holderSample {
            // A popular resource: rank the asker's partners and measured peers among
            // its holders, plus a bounded sample of the rest.
            let known = asker.partners.union(measured[id] ?? []).filter { pool.contains($0) }
            pool = known.union(pool.prefix(Self.holderSample))
        }
        let candidates = pool.compactMap { peer -> PairingPolicy.Candidate? in
            guard let other = sessions[peer] else { return nil }
            return .init(
                id: peer, address: other.address, freeSlots: max(1, other.freeSlots + (asker.isPartner(peer) ? 1 : 0)),
                rttMillis: rtts[PeerPair(id, peer)])
        }
        let ranked = policy.choose(query.limit, asker: id, address: asker.address, excluding: [], candidates: candidates)
        return Holders(requestID: query.requestID, digest: found.digest, peers: ranked.map(\.id))
    }

    // MARK: Time

    /// Drops pairs past their deadline, closes silent sessions and forgets expired
    /// resumable ones. Call it periodically.
    public mutating func expire(now: Instant) -> [Action] {
        // One pass that reads fields in place (no session copies, no allocation for a
        // healthy session); only what expired is sorted, so that actions come in a
        // stable order without sorting every session twice a second.
        var silent: [PeerID] = []
        var overdue: [(id: PeerID, partner: PeerID)] = []
        for index in sessions.indices {
            if now - sessions.values[index].lastSeen > configuration.heartbeatTimeout {
                silent.append(sessions.keys[index])
            } else if !sessions.values[index].pending.isEmpty {
                for (partner, pair) in sessions.values[index].pending where pair.deadline <= now {
                    overdue.append((sessions.keys[index], partner))
                }
            }
        }
        var actions: [Action] = []
        for id in silent.sorted(by: { $0.rawValue < $1.rawValue }) where sessions[id] != nil {
            actions.append(.close(id, WireError(.heartbeatTimeout, "no message for \(configuration.heartbeatTimeout)")))
            actions += disconnect(id, now: now)
        }
        overdue.sort { ($0.id.rawValue, $0.partner.rawValue) < ($1.id.rawValue, $1.partner.rawValue) }
        // Each pair is dropped once: the partner's side goes with it.
        for (id, partner) in overdue where sessions[id]?.pending[partner] != nil {
            sessions[id]?.pending[partner] = nil
            reindex(id)
            if let remote = remotes[partner] {
                // The other instance times out its side by its own clock.
                if !remote.awaiting.contains(id) { actions.append(.send(id, .unpair(Unpair(peer: partner, reason: .pairTimeout)))) }
                detach(partner, from: id)
                continue
            }
            sessions[partner]?.pending[id] = nil
            reindex(partner)
            noteUnreachable(id, partner, now: now)
            actions.append(.send(id, .unpair(Unpair(peer: partner, reason: .pairTimeout))))
            if sessions[partner] != nil { actions.append(.send(partner, .unpair(Unpair(peer: id, reason: .pairTimeout)))) }
        }
        if parked.values.contains(where: { $0.expires <= now }) {
            for parkedSession in parked.values where parkedSession.expires <= now {
                unpark(parkedSession.resumeToken)
                actions += endKeptLinks(of: parkedSession.id, parkedSession.links)
                if instance != nil { journal.remove(parkedSession.id) }
            }
        }
        return actions
    }
}
