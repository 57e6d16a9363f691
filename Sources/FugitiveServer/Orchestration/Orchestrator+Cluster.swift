import FugitiveWire

/// The orchestrator's work for the cluster: lookups in the store made outside the lock,
/// messages from other instances, liveness and the directory's write-back.
extension Orchestrator {
    /// Asks other instances for up to `count` partners for `asker`, nearest first.
    func findRemotePartners(for asker: PeerID, count: Int, cluster: ClusterLink) async {
        guard let query = withCore({ $0.state.remoteSearch(for: asker) }) else { return }
        let found: [PeerRecord]
        do {
            found = try await cluster.store.openPeers(
                swarm: query.swarm, near: query.address, excluding: cluster.instance, skipping: query.partners, limit: count * 2)
        } catch {
            cluster.countStoreError()
            cluster.logger.warning("cluster: open peers lookup failed", metadata: ["error": "\(String(reflecting: error))"])
            return
        }
        locked { core in
            var requested = 0
            for candidate in found where requested < count {
                let actions = core.state.requestRemotePair(asker, with: candidate, now: .now)
                if !actions.isEmpty { requested += 1 }
                core.execute(actions)
            }
        }
    }

    /// Answers a `who-has` with holders here and on other instances, ranked together.
    func answerWithRemoteHolders(_ asker: PeerID, query: WhoHas, cluster: ClusterLink) async {
        guard let (local, swarm) = withCore({ core in core.state.swarm(of: asker).map { (core.state.holders(query, asker: asker), $0) } })
        else { return }
        var remote: (digest: ResourceDigest?, peers: [PeerRecord]) = (nil, [])
        if local.peers.count < query.limit {
            do {
                remote = try await cluster.store.holders(
                    swarm: swarm, digest: local.digest ?? query.digest, url: query.url, excluding: cluster.instance,
                    limit: query.limit - local.peers.count)
            } catch {
                cluster.countStoreError()
                cluster.logger.warning("cluster: holders lookup failed", metadata: ["error": "\(String(reflecting: error))"])
            }
        }
        locked { core in
            let answer = core.state.mergeHolders(local, remote: remote, query: query, asker: asker)
            core.state.noteOffered(answer.peers, to: asker)
            core.execute([.send(asker, .holders(answer))])
        }
    }

    /// Handles a message from another instance.
    public func deliver(_ message: ClusterMessage, from sender: InstanceID) {
        cluster?.count(received: 1)
        locked { $0.execute($0.state.deliver(message, from: sender, now: .now)) }
    }

    /// Tells partners of peers on instances no longer alive that those peers left.
    public func instancesAlive(_ alive: Set<InstanceID>) {
        cluster?.record(liveInstances: alive.count)
        locked { $0.execute($0.state.instancesAlive(alive)) }
    }

    /// This instance's directory changes since the last call.
    public func drainDirectoryChanges() -> DirectoryChanges { withCore { $0.state.drainDirectoryChanges() } }

    /// Marks the whole directory for writing again (the store lost this instance's rows).
    public func resynchronize() { withCore { $0.state.resynchronize() } }

    /// Whether a `hello` resumes a session this instance does not know, which the store
    /// may hold for another instance.
    func resumesElsewhere(_ hello: Hello) -> Bool {
        guard cluster != nil, let token = hello.resumeToken else { return false }
        return withCore { !$0.state.knowsResumeToken(token) }
    }

    /// The session another instance held under the hello's resume token, if any.
    func storedSession(for hello: Hello) async -> StoredSession? {
        guard let cluster, let token = hello.resumeToken else { return nil }
        do {
            return try await cluster.store.session(resumeToken: token, swarm: hello.swarm, excluding: cluster.instance)
        } catch {
            cluster.countStoreError()
            cluster.logger.warning("cluster: session lookup failed", metadata: ["error": "\(String(reflecting: error))"])
            return nil
        }
    }
}

extension OrchestratorState {
    /// What a search for remote partners needs to know of the asker.
    func remoteSearch(for asker: PeerID) -> (swarm: String, address: String?, partners: Set<PeerID>)? {
        guard let session = sessions[asker], session.freeSlots > 0 else { return nil }
        return (session.swarm, session.address?.text, session.partners)
    }

    /// Whether a resume token belongs to a live or parked session here.
    func knowsResumeToken(_ token: String) -> Bool { sessionByToken[token] != nil || parked[token] != nil }

    /// Local holders (ranked as on one instance) followed by remote ones ranked by network
    /// proximity and capacity, at most `query.limit`.
    func mergeHolders(_ local: Holders, remote: (digest: ResourceDigest?, peers: [PeerRecord]), query: WhoHas, asker: PeerID) -> Holders {
        let digest = local.digest ?? remote.digest
        guard let session = sessions[asker], remote.digest == nil || remote.digest == digest else { return local }
        let known = Set(local.peers)
        let candidates = remote.peers.filter { !known.contains($0.id) && sessions[$0.id] == nil }.map {
            PairingPolicy.Candidate(
                id: $0.id, address: $0.address.flatMap(NetworkAddress.init), freeSlots: max(1, $0.freeSlots),
                rttMillis: rtts[PeerPair(asker, $0.id)])
        }
        let ranked = policy.choose(query.limit - local.peers.count, asker: asker, address: session.address, excluding: [], candidates: candidates)
        return Holders(requestID: query.requestID, digest: digest, peers: local.peers + ranked.map(\.id))
    }
}
