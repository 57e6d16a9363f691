import FugitiveWire

/// A peer on another instance that is a partner of peers here.
struct RemotePeer: Sendable {
    let instance: InstanceID
    /// Local partners (pending pairs and links).
    var partners: Set<PeerID> = []
    /// Local askers whose pair request the remote instance has not answered yet: they
    /// hold a slot but have not been told `pair`.
    var awaiting: Set<PeerID> = []
}

/// What changed in this instance's part of the directory since the last flush.
struct DirectoryJournal: Sendable {
    var touched: Set<PeerID> = []
    var parked: [PeerID: PeerRecord] = [:]
    var removed: Set<PeerID> = []
    var added: [PeerID: [ResourceDigest: Holding]] = [:]
    var dropped: [PeerID: Set<ResourceDigest>] = [:]

    mutating func touch(_ id: PeerID) {
        touched.insert(id)
        removed.remove(id)
        parked[id] = nil
    }

    mutating func add(_ holding: Holding, of id: PeerID) {
        added[id, default: [:]][holding.digest] = holding
        dropped[id]?.remove(holding.digest)
    }

    mutating func drop(_ digest: ResourceDigest, of id: PeerID) {
        added[id]?[digest] = nil
        dropped[id, default: []].insert(digest)
    }

    mutating func remove(_ id: PeerID) {
        disown(id)
        removed.insert(id)
    }

    /// Forgets pending changes of a row another instance owns now.
    mutating func disown(_ id: PeerID) {
        touched.remove(id)
        parked[id] = nil
        added[id] = nil
        dropped[id] = nil
    }
}

extension OrchestratorState {
    /// Runs this state as one instance of a cluster: partners may live on other
    /// instances, and directory changes are journaled for ``drainDirectoryChanges()``.
    public mutating func joinCluster(as instance: InstanceID) {
        self.instance = instance
        resynchronize()
    }

    /// Journals every session, parked session and holding again (the store lost them).
    public mutating func resynchronize() {
        guard instance != nil else { return }
        for (id, session) in sessions {
            journal.touch(id)
            for holding in session.held.values { journal.add(holding, of: id) }
        }
        for parkedSession in parked.values {
            journal.parked[parkedSession.id] = record(parked: parkedSession)
            for holding in parkedSession.held { journal.add(holding, of: parkedSession.id) }
        }
    }

    /// The directory changes since the last call, ready for ``ClusterStore/apply(_:from:)``.
    public mutating func drainDirectoryChanges() -> DirectoryChanges {
        var changes = DirectoryChanges()
        changes.removed = journal.removed.sorted { $0.rawValue < $1.rawValue }
        changes.upserted = journal.touched.compactMap { record(of: $0) } + journal.parked.values
        changes.holdingsAdded = journal.added.compactMapValues { $0.isEmpty ? nil : Array($0.values) }
        changes.holdingsRemoved = journal.dropped.compactMapValues { $0.isEmpty ? nil : Array($0) }
        journal = DirectoryJournal()
        return changes
    }

    /// A live session's directory row.
    func record(of id: PeerID) -> PeerRecord? {
        guard let instance, let session = sessions[id] else { return nil }
        var partners: [PeerID: Bool] = [:]
        for peer in session.pending.keys { partners[peer] = false }
        for peer in session.connected { partners[peer] = true }
        return PeerRecord(
            id: id, instance: instance, swarm: session.swarm, resumeToken: session.resumeToken, maxPeers: session.max,
            freeSlots: session.freeSlots, address: session.address?.text, live: true, partners: partners, generation: session.generation)
    }

    func record(parked session: Parked) -> PeerRecord? {
        guard let instance else { return nil }
        return PeerRecord(
            id: session.id, instance: instance, swarm: session.swarm, resumeToken: session.resumeToken, maxPeers: 0,
            freeSlots: 0, address: nil, live: false, generation: session.generation)
    }

    /// Number of peers on other instances partnered with peers here.
    public var remotePartnerCount: Int { remotes.count }

    // MARK: Pairing across instances

    /// Reserves a slot of `asker` for `candidate` (a peer of another instance) and asks
    /// that instance; `asker` is told `pair` when the answer comes. Nothing happens when
    /// either side can no longer take the pair.
    public mutating func requestRemotePair(_ asker: PeerID, with candidate: PeerRecord, now: Instant) -> [Action] {
        guard let instance, candidate.instance != instance, sessions[candidate.id] == nil,
            let session = sessions[asker], session.swarm == candidate.swarm, session.freeSlots > 0,
            !session.isPartner(candidate.id)
        else { return [] }
        sessions[asker]?.pending[candidate.id] = PendingPair(deadline: now + configuration.pairTimeout)
        remotes[candidate.id, default: RemotePeer(instance: candidate.instance)].partners.insert(asker)
        remotes[candidate.id]!.awaiting.insert(asker)
        reindex(asker)
        return [.forward(candidate.instance, .pairRequest(from: asker, to: candidate.id, swarm: candidate.swarm))]
    }

    /// Handles a message from another instance.
    public mutating func deliver(_ message: ClusterMessage, from sender: InstanceID, now: Instant) -> [Action] {
        switch message {
        case .pairRequest(let from, let to, let swarm):
            // Requests that crossed: each instance asked for the other's peer at once, so
            // each finds its own request pending. Refusing both would free both slots, and
            // peers that ask again in step would cross again, forever; instead the request
            // from the smaller id wins on both sides (the other one is refused there).
            if remotes[from]?.awaiting.contains(to) == true, sessions[to]?.pending[from] != nil, from.rawValue < to.rawValue {
                remotes[from]!.awaiting.remove(to)
                return [.send(to, .pair(Pair(peer: from, offerer: false))), .forward(sender, .pairAnswer(from: from, to: to, accepted: true))]
            }
            guard let session = sessions[to], session.swarm == swarm, session.freeSlots > 0, !session.isPartner(from),
                sessions[from] == nil
            else { return [.forward(sender, .pairAnswer(from: from, to: to, accepted: false))] }
            sessions[to]?.pending[from] = PendingPair(deadline: now + configuration.pairTimeout)
            remotes[from, default: RemotePeer(instance: sender)].partners.insert(to)
            reindex(to)
            return [.send(to, .pair(Pair(peer: from, offerer: false))), .forward(sender, .pairAnswer(from: from, to: to, accepted: true))]

        case .pairAnswer(let asker, let partner, let accepted):
            let waiting = remotes[partner]?.awaiting.remove(asker) != nil && sessions[asker]?.pending[partner] != nil
            guard waiting else {
                // The asker left or its reservation expired meanwhile: undo the other side.
                return accepted ? [.forward(sender, .peerLeft(peer: asker, to: [partner]))] : []
            }
            guard accepted else {
                endPartnership(of: asker, with: partner)
                return []
            }
            return [.send(asker, .pair(Pair(peer: partner, offerer: true)))]

        case .signal(let to, let signal):
            // Only between partners, as on one instance; anything else is dropped (the
            // sender's instance checked its side already).
            guard reading(to, { $0.isPartner(signal.peer) }) == true, remotes[signal.peer] != nil else { return [] }
            return [.send(to, .signal(signal))]

        case .link(let from, let to, let state, let rtt):
            guard reading(to, { $0.isPartner(from) }) == true else {
                // `to` is parked and kept the link for its resume: the link ended meanwhile.
                if state != .connected, sessions[to] == nil { detach(from, from: to) }
                return []
            }
            switch state {
            case .connected:
                // The remote side's claim; the link is up once the local peer claims it too.
                sessions[to]?.pending[from]?.partnerClaimed = true
                confirmIfBothClaimed(to, from)
                if let rtt, sessions[to]?.connected.contains(from) == true { measure(to, from, millis: rtt) }
                reindex(to)
            case .disconnected, .failed:
                endPartnership(of: to, with: from)
            }
            return []

        case .peerLeft(let peer, let partners):
            var actions: [Action] = []
            // Partners parked here that kept the link: it is not there for their resume.
            for partner in partners where sessions[partner] == nil { detach(peer, from: partner) }
            for partner in partners where reading(partner, { $0.isPartner(peer) }) == true && remotes[peer] != nil {
                endPartnership(of: partner, with: peer)
                actions.append(.send(partner, .peerLeft(PeerLeft(peer: peer))))
            }
            return actions

        case .sessionMoved(let peer, let token):
            if let parkedSession = parked[token], parkedSession.id == peer {
                unpark(token)
                // Nothing of it is written any more (holdings flushed late included): the
                // row is the other instance's now.
                if instance != nil { journal.disown(peer) }
                // Its links do not move with it: the partners here drop them.
                return endKeptLinks(of: peer, parkedSession.links)
            }
            guard sessions[peer]?.resumeToken == token else { return [] }
            // Not parked and not journaled as removed: the row now belongs to the other instance.
            let actions: [Action] = [.close(peer, WireError(.resumeRejected, "session resumed on another instance"))]
            return actions + disconnect(peer, now: now, park: false, moved: true)
        }
    }

    /// Tells local partners of peers on instances that are gone that those peers left.
    public mutating func instancesAlive(_ alive: Set<InstanceID>) -> [Action] {
        let gone = remotes.filter { !alive.contains($0.value.instance) }.keys
        return gone.sorted(by: { $0.rawValue < $1.rawValue }).flatMap { remoteLeft($0) }
    }

    /// A remote peer is gone (its instance died, or the session came here): its local
    /// partners are told `peer-left`, but for those in `kept`, whose links to it stay (the
    /// session came here, and they are this instance's links now).
    mutating func remoteLeft(_ peer: PeerID, keeping kept: Set<PeerID> = []) -> [Action] {
        guard let remote = remotes.removeValue(forKey: peer) else { return [] }
        var actions: [Action] = []
        for partner in remote.partners.sorted(by: { $0.rawValue < $1.rawValue }) where sessions[partner] != nil && !kept.contains(partner) {
            endPartnership(of: partner, with: peer)
            if !remote.awaiting.contains(partner) { actions.append(.send(partner, .peerLeft(PeerLeft(peer: peer)))) }
        }
        forgetMeasurements(of: peer)
        return actions
    }

    /// `local` (a session here) is no longer paired or linked with the remote `peer`.
    mutating func endPartnership(of local: PeerID, with peer: PeerID) {
        sessions[local]?.pending[peer] = nil
        sessions[local]?.connected.remove(peer)
        detach(peer, from: local)
        reindex(local)
    }

    /// The part of a partnership that concerns a remote peer ends for `local`.
    mutating func detach(_ remote: PeerID, from local: PeerID) {
        guard remotes[remote] != nil else { return }
        remotes[remote]!.partners.remove(local)
        remotes[remote]!.awaiting.remove(local)
        if remotes[remote]!.partners.isEmpty { remotes[remote] = nil }
    }

    /// A remote partner's side of a change made here.
    func forwardLink(_ report: LinkReport, from id: PeerID) -> [Action] {
        guard let remote = remotes[report.peer] else { return [] }
        return [.forward(remote.instance, .link(from: id, to: report.peer, state: report.state, rttMillis: report.rttMillis))]
    }
}
