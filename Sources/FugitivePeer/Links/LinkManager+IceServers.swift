import FugitiveWire

/// The STUN and TURN servers new connections use: the server's list, its host names
/// resolved (libnice takes addresses only), and resolved again when links fail — a TURN
/// server that failed over to another address under the same name is found again.
extension LinkManager {
    /// Resolves a welcome's STUN and TURN host names for the connections made from now
    /// on (libnice takes addresses only), and says which entries cannot be used.
    ///
    /// Pairs that arrive meanwhile wait for it (up to ``iceResolutionWait``): a connection
    /// made without the STUN and TURN servers gathers host candidates only, and behind a
    /// NAT that means no link at all. A newer resolution supersedes this one: a slow
    /// lookup of an older list is dropped (``State/iceGeneration``).
    func resolveIceServers(_ servers: [ICEServer]) {
        let logger = logger
        let generation = state.withLock { state in
            state.iceResolving = true
            state.iceServerList = servers
            state.iceResolvedAt = .now
            state.iceGeneration += 1
            return state.iceGeneration
        }
        Task {
            let resolved = await ResolvedIceServers.resolve(servers, lookup: ResolvedIceServers.systemLookup)
            for skipped in resolved.skipped {
                logger.warning(
                    "an ICE server the orchestrator named is not used", metadata: ["server": "\(skipped.url)", "reason": "\(skipped.reason)"])
            }
            let waiting = state.withLock { state -> [Pair] in
                guard state.iceGeneration == generation else { return [] }
                state.iceServers = resolved
                return state.takePairsWaitingForIce()
            }
            for pair in waiting { open(pair) }
        }
        Task {
            try? await Task.sleep(for: Self.iceResolutionWait)
            let waiting = state.withLock { state -> [Pair] in
                guard state.iceGeneration == generation, state.iceResolving else { return [] }
                logger.warning("ICE servers still resolving: pairing with the previous ones", metadata: ["waited": "\(Self.iceResolutionWait)"])
                return state.takePairsWaitingForIce()
            }
            for pair in waiting { open(pair) }
        }
    }

    /// How long a pair waits for the ICE servers' names to resolve.
    static let iceResolutionWait: Duration = .seconds(3)

    /// Opens the pair now, or once the ICE servers are resolved.
    func openWhenIceIsReady(_ pair: Pair) {
        let now = state.withLock { state -> Bool in
            guard state.iceResolving else { return true }
            state.pairsWaitingForIce.append(pair)
            return false
        }
        if now { open(pair) }
    }

    /// A connection failed to link, or a relayed link ended: the names may point elsewhere
    /// now (a TURN server replaced under its name). Resolves them again for the connections
    /// made from now on — at most once per ``iceReresolveInterval``, and never while a
    /// resolution is under way.
    func iceServersMayHaveMoved() {
        let servers = state.withLock { state -> [ICEServer]? in
            guard !state.iceServerList.isEmpty, !state.iceResolving,
                state.iceResolvedAt.map({ ContinuousClock.now - $0 >= Self.iceReresolveInterval }) ?? true
            else { return nil }
            return state.iceServerList
        }
        guard let servers else { return }
        logger.debug("links failed: resolving the ICE servers' names again")
        resolveIceServers(servers)
    }

    /// The least time between two resolutions that failures start.
    static let iceReresolveInterval: Duration = .seconds(10)
}
