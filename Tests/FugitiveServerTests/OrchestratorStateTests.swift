import FugitiveServer
import FugitiveWire
import Testing

/// The orchestrator's decisions, without sockets.
@Suite struct OrchestratorStateTests {
    typealias Action = OrchestratorState.Action
    let start = ContinuousClock.now
    static let digest = ResourceDigest(bytes: Array(repeating: 7, count: 32))!

    func join(
        _ state: inout OrchestratorState, _ id: PeerID, swarm: String = "s", address: String? = nil, max: Int = 8, resume: String? = nil,
        at seconds: Int = 0
    ) throws -> Welcome {
        try state.connect(
            Hello(swarm: swarm, targetPeers: min(4, max), maxPeers: max, resumeToken: resume),
            address: address.flatMap(NetworkAddress.init), newID: id, newToken: "token-\(id)", now: start + .seconds(seconds)
        ).welcome
    }

    func pairs(_ actions: [Action]) -> [PeerID: [Pair]] {
        var result: [PeerID: [Pair]] = [:]
        for case .send(let to, .pair(let pair)) in actions { result[to, default: []].append(pair) }
        return result
    }

    @Test func pairsOnlyInsideTheSwarm() throws {
        var state = OrchestratorState()
        _ = try join(&state, "a")
        _ = try join(&state, "b")
        _ = try join(&state, "x", swarm: "other")
        let actions = state.receive(.want(Want(count: 4)), from: "a", now: start)
        #expect(pairs(actions) == ["a": [Pair(peer: "b", offerer: true)], "b": [Pair(peer: "a", offerer: false)]])
        // Asking again finds nobody new: b is already a partner.
        #expect(state.receive(.want(Want(count: 4)), from: "a", now: start).isEmpty)
    }

    /// Pairing samples open peers instead of scanning the swarm: in a large swarm where
    /// every peer shares one network, every want must still be answered.
    @Test func everyWantIsAnsweredInALargeSwarm() throws {
        var state = OrchestratorState()
        let ids = (0..<3000).map { PeerID("p\($0)") }
        for id in ids { _ = try join(&state, id, address: "127.0.0.1") }
        var unanswered: [PeerID] = []
        for id in ids
        where id.rawValue.hasSuffix("0") || id.rawValue.hasSuffix("2") || id.rawValue.hasSuffix("4") || id.rawValue.hasSuffix("6")
            || id.rawValue.hasSuffix("8")
        {
            let answer = pairs(state.receive(.want(Want(count: 1)), from: id, now: start))
            if answer[id]?.count != 1 { unanswered.append(id) }
        }
        #expect(unanswered.isEmpty, "\(unanswered.count) wants got no partner, e.g. \(unanswered.prefix(5))")
    }

    /// Links through TURN are counted apart (operators pay for their bytes), as either
    /// side reports them, and stop counting when the link ends.
    @Test func relayedLinksAreCountedAsThePeersReportThem() throws {
        var state = OrchestratorState()
        for id: PeerID in ["a", "b", "c"] { _ = try join(&state, id) }
        _ = state.receive(.want(Want(count: 2)), from: "a", now: start)
        let direct = LinkRoute(local: .host, remote: .srflx)
        _ = state.receive(.link(LinkReport(peer: "b", state: .connected, route: direct)), from: "a", now: start)
        _ = state.receive(.link(LinkReport(peer: "a", state: .connected, route: direct)), from: "b", now: start)
        _ = state.receive(.link(LinkReport(peer: "c", state: .connected)), from: "a", now: start)
        _ = state.receive(.link(LinkReport(peer: "a", state: .connected, route: LinkRoute(local: .relay, remote: .host))), from: "c", now: start)
        #expect(state.shapes()["s"]?.links == 2)
        #expect(state.shapes()["s"]?.relayedLinks == 1)
        // The operator's graph says which link it is.
        let graph = state.graph(of: "s")
        #expect(graph.links == [["a", "b"], ["a", "c"]] && graph.relayedLinks == [["a", "c"]])
        _ = state.receive(.link(LinkReport(peer: "a", state: .disconnected)), from: "c", now: start)
        #expect(state.shapes()["s"]?.links == 1 && state.shapes()["s"]?.relayedLinks == 0)
        #expect(state.graph(of: "s").relayedLinks.isEmpty)
    }

    /// Tier 2: a want may name holders; they are paired first when they can be.
    @Test func namedPeersArePairedFirstWhenTheyCanBe() throws {
        // Failed pairs may be made again at once here: the pairs fail only to free the slot.
        var configuration = OrchestratorState.Configuration()
        configuration.unreachableRetry = .zero
        var state = OrchestratorState(configuration: configuration)
        // Same network for a and near, another for far: without names, near would win.
        _ = try join(&state, "a", address: "10.0.0.1")
        _ = try join(&state, "near", address: "10.0.0.2")
        _ = try join(&state, "far", address: "192.168.9.9")
        _ = try join(&state, "full", address: "10.0.0.3", max: 0)
        _ = try join(&state, "elsewhere", swarm: "other", address: "10.0.0.4")
        // Only holders the server gave the asker may be named: far, not yet.
        _ = state.receive(.have(Have(holdings: [Holding(digest: Self.digest, url: "https://o/x", size: 1)])), from: "far", now: start)
        #expect(pairs(state.receive(.want(Want(count: 1, peers: ["far"])), from: "a", now: start))["a"] == [Pair(peer: "near", offerer: true)])
        _ = state.receive(.link(LinkReport(peer: "near", state: .failed)), from: "a", now: start)
        #expect(
            state.receive(.whoHas(WhoHas(requestID: 1, digest: Self.digest, limit: 4)), from: "a", now: start)
                == [.send("a", .holders(Holders(requestID: 1, digest: Self.digest, peers: ["far"])))])
        #expect(pairs(state.receive(.want(Want(count: 1, peers: ["far"])), from: "a", now: start))["a"] == [Pair(peer: "far", offerer: true)])
        // Names that cannot be taken (self, a partner, full, another swarm, unknown) fall
        // back to ordinary pairing.
        let fallback = state.receive(.want(Want(count: 1, peers: ["a", "far", "full", "elsewhere", "ghost"])), from: "a", now: start)
        #expect(pairs(fallback)["a"] == [Pair(peer: "near", offerer: true)])
    }

    @Test func reportsAddUpPerSwarmAndTheGraphListsLinksAndTopResources() throws {
        var state = OrchestratorState()
        _ = try join(&state, "a")
        _ = try join(&state, "b")
        _ = try join(&state, "x", swarm: "other")
        _ = state.receive(.report(DeliveryReport(fromOrigin: 100, fromPeers: 0, served: 0)), from: "a", now: start)
        _ = state.receive(.report(DeliveryReport(fromOrigin: 100, fromPeers: 50, served: 7)), from: "a", now: start)
        _ = state.receive(.report(DeliveryReport(fromOrigin: 0, fromPeers: 30, served: 0)), from: "b", now: start)
        // A counter that went down (a restarted peer) counts from its new value.
        _ = state.receive(.report(DeliveryReport(fromOrigin: 10, fromPeers: 50, served: 7)), from: "a", now: start)
        _ = state.receive(.report(DeliveryReport(fromOrigin: 5, fromPeers: 0, served: 0)), from: "x", now: start)
        #expect(state.delivered["s"] == Delivery(fromOrigin: 110, fromPeers: 80, served: 7))
        #expect(state.delivered["other"] == Delivery(fromOrigin: 5))

        _ = state.receive(.want(Want(count: 1)), from: "a", now: start)
        _ = state.receive(.link(LinkReport(peer: "b", state: .connected)), from: "a", now: start)
        _ = state.receive(.link(LinkReport(peer: "a", state: .connected)), from: "b", now: start)
        let held = Holding(digest: Self.digest, url: "https://o/x", size: 1)
        _ = state.receive(.have(Have(holdings: [held])), from: "a", now: start)
        _ = state.receive(.have(Have(holdings: [held])), from: "b", now: start)
        let graph = state.graph(of: "s")
        #expect(graph.peers == ["a", "b"] && graph.links == [["a", "b"]] && !graph.truncated)
        #expect(graph.topResources.map(\.url) == ["https://o/x"] && graph.topResources.map(\.holders) == [2])
        #expect(state.graph(of: "s", limit: 1).truncated)
    }

    @Test func capacityIsRespected() throws {
        var state = OrchestratorState()
        _ = try join(&state, "a", max: 1)
        _ = try join(&state, "b", max: 1)
        _ = try join(&state, "c", max: 1)
        #expect(pairs(state.receive(.want(Want(count: 2)), from: "a", now: start)).count == 2)
        // a and its partner are both at their maximum now; c finds nobody.
        #expect(state.receive(.want(Want(count: 1)), from: "c", now: start).isEmpty)
    }

    @Test func measuredRTTBeatsNetworkPrefix() throws {
        var state = OrchestratorState()
        _ = try join(&state, "a", address: "192.0.2.1")
        _ = try join(&state, "near", address: "192.0.2.2")
        _ = try join(&state, "far", address: "10.0.0.1")
        // far is equally distant from both and takes a (ties go by id), measures 3 ms, unlinks.
        #expect(pairs(state.receive(.want(Want(count: 1)), from: "far", now: start))["far"] == [Pair(peer: "a", offerer: true)])
        _ = state.receive(.link(LinkReport(peer: "far", state: .connected)), from: "a", now: start)
        _ = state.receive(.link(LinkReport(peer: "a", state: .connected, rttMillis: 3)), from: "far", now: start)
        _ = state.receive(.link(LinkReport(peer: "a", state: .disconnected)), from: "far", now: start)
        // Now a prefers the measured far over the same-/24 near.
        #expect(pairs(state.receive(.want(Want(count: 1)), from: "a", now: start))["a"] == [Pair(peer: "far", offerer: true)])
        // Without a measurement, the same /24 wins.
        #expect(pairs(state.receive(.want(Want(count: 1)), from: "a", now: start))["a"] == [Pair(peer: "near", offerer: true)])
    }

    @Test func signalsAreRelayedBetweenPartnersOnly() throws {
        var state = OrchestratorState()
        _ = try join(&state, "a")
        _ = try join(&state, "b")
        _ = try join(&state, "c", swarm: "other")
        let spoofed = state.receive(.signal(Signal(peer: "b", kind: .offer, sdp: "v=0")), from: "a", now: start)
        guard case .send("a", .error(let error)) = spoofed.first else { Issue.record("\(spoofed)"); return }
        #expect(error.code == .notPaired)
        _ = state.receive(.want(Want(count: 1)), from: "a", now: start)
        let relayed = state.receive(.signal(Signal(peer: "b", kind: .offer, sdp: "v=0")), from: "a", now: start)
        #expect(relayed == [.send("b", .signal(Signal(peer: "a", kind: .offer, sdp: "v=0")))])
        let crossSwarm = state.receive(.signal(Signal(peer: "c", kind: .candidate, candidate: "x")), from: "a", now: start)
        #expect(crossSwarm.count == 1)
        #expect(crossSwarm.allSatisfy { if case .send("a", .error) = $0 { true } else { false } })
    }

    @Test func pairTimeoutDropsBothSides() throws {
        var state = OrchestratorState()
        _ = try join(&state, "a")
        _ = try join(&state, "b")
        _ = try join(&state, "c")
        _ = state.receive(.want(Want(count: 2)), from: "a", now: start)
        _ = state.receive(.link(LinkReport(peer: "b", state: .connected)), from: "a", now: start + .seconds(1))
        _ = state.receive(.link(LinkReport(peer: "a", state: .connected)), from: "b", now: start + .seconds(1))
        for id: PeerID in ["a", "b", "c"] { _ = state.receive(.ping(Heartbeat(nonce: 1)), from: id, now: start + .seconds(19)) }
        #expect(state.expire(now: start + .seconds(19)).isEmpty)
        let actions = state.expire(now: start + .seconds(21))
        #expect(
            Set(actions.map { "\($0)" })
                == Set(
                    [
                        Action.send("a", .unpair(Unpair(peer: "c", reason: .pairTimeout))),
                        Action.send("c", .unpair(Unpair(peer: "a", reason: .pairTimeout))),
                    ].map { "\($0)" }))
        #expect(state.linkCount == 1)
    }

    @Test func heartbeatTimeoutClosesAndTellsPartners() throws {
        var state = OrchestratorState()
        _ = try join(&state, "a")
        _ = try join(&state, "b")
        _ = state.receive(.want(Want(count: 1)), from: "a", now: start)
        _ = state.receive(.ping(Heartbeat(nonce: 1)), from: "b", now: start + .seconds(40))
        let actions = state.expire(now: start + .seconds(46))
        #expect(actions.contains(.close("a", WireError(.heartbeatTimeout, "no message for 45.0 seconds"))))
        #expect(actions.contains(.send("b", .peerLeft(PeerLeft(peer: "a")))))
        #expect(state.peerCount == 1)
    }

    @Test func resumeKeepsIdAndHoldingsWithinGrace() throws {
        var state = OrchestratorState()
        let welcome = try join(&state, "a")
        _ = try join(&state, "b")
        _ = state.receive(.have(Have(holdings: [Holding(digest: Self.digest, url: "https://o/x", size: 3)])), from: "a", now: start)
        _ = state.disconnect("a", now: start + .seconds(1))
        let query = ServerMessage.whoHas(WhoHas(requestID: 1, digest: Self.digest, limit: 4))
        #expect(
            state.receive(query, from: "b", now: start + .seconds(2)) == [.send("b", .holders(Holders(requestID: 1, digest: Self.digest, peers: [])))]
        )
        let again = try join(&state, "new-id", resume: welcome.resumeToken, at: 30)
        #expect(again.peer == "a")
        #expect(again.resumed)
        #expect(
            state.receive(query, from: "b", now: start + .seconds(31)) == [
                .send("b", .holders(Holders(requestID: 1, digest: Self.digest, peers: ["a"])))
            ])
        // After the grace period the token is worthless.
        _ = state.disconnect("a", now: start + .seconds(40))
        _ = state.expire(now: start + .seconds(101))
        let late = try join(&state, "fresh", resume: welcome.resumeToken, at: 101)
        #expect(late.peer == "fresh")
        #expect(!late.resumed)
    }

    @Test func aResumeRefusedForAFullSwarmCanBeRetried() throws {
        var configuration = OrchestratorState.Configuration()
        configuration.peersPerSwarm = 1
        var state = OrchestratorState(configuration: configuration)
        let welcome = try join(&state, "a")
        _ = state.disconnect("a", now: start)
        _ = try join(&state, "b")
        #expect(throws: WireError.self) { try join(&state, "c", resume: welcome.resumeToken, at: 1) }
        _ = state.disconnect("b", now: start + .seconds(2))
        let again = try join(&state, "d", resume: welcome.resumeToken, at: 3)
        #expect(again.peer == "a")
        #expect(again.resumed)
    }

    @Test func anUnknownResumeTokenIsAFreshSessionAndNoError() throws {
        var state = OrchestratorState()
        let (welcome, actions) = try state.connect(
            Hello(swarm: "s", targetPeers: 4, maxPeers: 8, resumeToken: "no-such-token"), address: nil, newID: "n", newToken: "token-n", now: start)
        #expect(welcome.peer == "n" && !welcome.resumed && welcome.resumeToken == "token-n")
        #expect(!actions.contains { if case .send(_, .error) = $0 { true } else if case .close = $0 { true } else { false } }, "\(actions)")
    }

    @Test func whoHasLeavesOutTheAskerEvenWhenItHoldsTheResource() throws {
        var state = OrchestratorState()
        _ = try join(&state, "a")
        _ = try join(&state, "b")
        let holding = Holding(digest: Self.digest, url: "https://o/x", size: 3)
        for peer: PeerID in ["a", "b"] { _ = state.receive(.have(Have(holdings: [holding])), from: peer, now: start) }
        #expect(
            state.receive(.whoHas(WhoHas(requestID: 1, digest: Self.digest, limit: 4)), from: "a", now: start) == [
                .send("a", .holders(Holders(requestID: 1, digest: Self.digest, peers: ["b"])))
            ])
        #expect(
            state.receive(.whoHas(WhoHas(requestID: 2, url: "https://o/x", limit: 4)), from: "b", now: start) == [
                .send("b", .holders(Holders(requestID: 2, digest: Self.digest, peers: ["a"])))
            ])
    }

    @Test func whoHasByURLAndLimits() throws {
        var configuration = OrchestratorState.Configuration()
        configuration.holdingsPerPeer = 1
        var state = OrchestratorState(configuration: configuration)
        _ = try join(&state, "a")
        _ = try join(&state, "b")
        let other = ResourceDigest(bytes: Array(repeating: 9, count: 32))!
        let actions = state.receive(
            .have(Have(holdings: [Holding(digest: Self.digest, url: "https://o/x", size: 3), Holding(digest: other, url: "https://o/y", size: 3)])),
            from: "a", now: start)
        guard case .send("a", .error(let error)) = actions.first else { Issue.record("\(actions)"); return }
        #expect(error.code == .tooManyAnnouncements)
        #expect(
            state.receive(.whoHas(WhoHas(requestID: 2, url: "https://o/x", limit: 1)), from: "b", now: start) == [
                .send("b", .holders(Holders(requestID: 2, digest: Self.digest, peers: ["a"])))
            ])
        _ = state.receive(.drop(Drop(digests: [Self.digest])), from: "a", now: start)
        #expect(
            state.receive(.whoHas(WhoHas(requestID: 3, digest: Self.digest, limit: 1)), from: "b", now: start) == [
                .send("b", .holders(Holders(requestID: 3, digest: Self.digest, peers: [])))
            ])
    }

    @Test func swarmLimitAndServerOnlyMessages() throws {
        var configuration = OrchestratorState.Configuration()
        configuration.peersPerSwarm = 1
        var state = OrchestratorState(configuration: configuration)
        _ = try join(&state, "a")
        #expect(throws: WireError.self) { try join(&state, "b") }
        let actions = state.receive(.pair(Pair(peer: "a", offerer: true)), from: "a", now: start)
        guard case .close("a", let error) = actions.first else { Issue.record("\(actions)"); return }
        #expect(error.code == .unexpectedMessage)
    }
}
