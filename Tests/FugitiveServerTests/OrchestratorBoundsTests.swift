import FugitiveServer
import FugitiveWire
import Testing

/// What an anonymous peer can make the orchestrator's state do: never trap, never hold
/// more than the configuration allows, never let one side's word make a link.
@Suite struct OrchestratorBoundsTests {
    typealias Action = OrchestratorState.Action
    let start = ContinuousClock.now

    func join(
        _ state: inout OrchestratorState, _ id: PeerID, swarm: String = "s", address: String? = "198.51.100.1", max: Int = 8,
        resume: String? = nil, at instant: ContinuousClock.Instant? = nil
    ) throws -> Welcome {
        try state.connect(
            Hello(swarm: swarm, targetPeers: min(4, max), maxPeers: max, resumeToken: resume),
            address: address.flatMap(NetworkAddress.init), newID: id, newToken: "token-\(id)", now: instant ?? start
        ).welcome
    }

    static func digest(_ n: Int) -> ResourceDigest {
        ResourceDigest(bytes: (0..<32).map { UInt8(truncatingIfNeeded: n >> (8 * ($0 % 4))) ^ UInt8($0) })!
    }

    /// The three-message crash: `report {o: 2^64-1}`, `{o: 0}`, `{o: 2^64-1}` overflowed a sum.
    @Test func reportsNeitherTrapNorBelieveAnyNumber() throws {
        var state = OrchestratorState()
        _ = try join(&state, "a")
        for (seconds, value) in [(1, UInt64.max), (2, 0), (3, UInt64.max), (4, 0), (5, UInt64.max)] {
            _ = state.receive(
                .report(DeliveryReport(fromOrigin: value, fromPeers: value, served: value, servedRelayed: value)), from: "a",
                now: start + .seconds(seconds))
        }
        // Five reports over five seconds: at most 1 GiB/s of claimed growth each.
        let bound = UInt64(5) << 30
        let delivery = try #require(state.delivered["s"])
        #expect(delivery.fromOrigin <= bound && delivery.fromPeers <= bound && delivery.served <= bound, "\(delivery)")
        #expect(delivery.fromOrigin > 0)
        #expect(delivery.servedRelayed <= delivery.served, "\(delivery)")
        // An honest peer's numbers pass unchanged.
        _ = try join(&state, "b", swarm: "honest")
        _ = state.receive(
            .report(DeliveryReport(fromOrigin: 1_000, fromPeers: 20_000, served: 300, servedRelayed: 120)), from: "b", now: start + .seconds(2))
        #expect(state.delivered["honest"] == Delivery(fromOrigin: 1_000, fromPeers: 20_000, served: 300, servedRelayed: 120))
        // Relayed bytes are part of what was served: a claim of more is cut to it.
        _ = try join(&state, "c", swarm: "overclaim")
        _ = state.receive(.report(DeliveryReport(fromOrigin: 0, fromPeers: 0, served: 50, servedRelayed: 9_000)), from: "c", now: start + .seconds(2))
        #expect(state.delivered["overclaim"]?.servedRelayed == 50)
    }

    /// Three sessions claiming `connected` at once kept a victim's slots full forever.
    @Test func oneSidedConnectedClaimsMakeNoLinkAndFreeTheSlotsAtTheTimeout() throws {
        var state = OrchestratorState()
        _ = try join(&state, "victim", max: 3)
        for attacker: PeerID in ["x", "y", "z"] {
            _ = try join(&state, attacker, max: 1)
            let paired = state.receive(.want(Want(count: 1, peers: ["victim"])), from: attacker, now: start)
            #expect(paired.contains(.send("victim", .pair(Pair(peer: attacker, offerer: false)))))
            _ = state.receive(.link(LinkReport(peer: "victim", state: .connected, rttMillis: 0.1)), from: attacker, now: start)
        }
        #expect(state.linkCount == 0, "one side's word made a link")
        // The victim never confirms; the pairs time out and its slots are free again.
        for id: PeerID in ["victim", "x", "y", "z"] { _ = state.receive(.ping(Heartbeat(nonce: 1)), from: id, now: start + .seconds(21)) }
        let expired = state.expire(now: start + .seconds(21))
        #expect(expired.filter { if case .send("victim", .unpair) = $0 { true } else { false } }.count == 3)
        _ = try join(&state, "honest", at: start + .seconds(21))
        let paired = state.receive(.want(Want(count: 1)), from: "honest", now: start + .seconds(21))
        let partner = paired.compactMap { action -> PeerID? in if case .send("honest", .pair(let p)) = action { p.peer } else { nil } }
        #expect(partner.count == 1)
        // Both sides' word makes the link.
        _ = state.receive(.link(LinkReport(peer: partner[0], state: .connected)), from: "honest", now: start + .seconds(21))
        #expect(state.linkCount == 0)
        _ = state.receive(.link(LinkReport(peer: "honest", state: .connected)), from: partner[0], now: start + .seconds(21))
        #expect(state.linkCount == 1)
    }

    /// `want.p` may name only holders the server gave the asker; pairs per asker are rate-limited.
    @Test func wantsCannotAimAtAVictimAndPairsAreRateLimited() throws {
        // Failed pairs may be made again at once here: the pairs fail only to free the slot.
        var configuration = OrchestratorState.Configuration()
        configuration.unreachableRetry = .zero
        var state = OrchestratorState(configuration: configuration)
        _ = try join(&state, "victim", address: "203.0.113.9")
        _ = try join(&state, "bystander", address: "198.51.100.2")
        _ = try join(&state, "asker", address: "198.51.100.1", max: 200)
        for n in 0..<10 { _ = try join(&state, PeerID("more\(n)"), address: "192.0.2.\(n + 1)") }
        let aimed = state.receive(.want(Want(count: 1, peers: ["victim"])), from: "asker", now: start)
        #expect(aimed.contains(.send("asker", .pair(Pair(peer: "bystander", offerer: true)))), "\(aimed)")
        // Pair, fail, pair again: the burst (32) runs out, then one pair per second.
        var pairsMade = 0
        for _ in 0..<100 {
            let actions = state.receive(.want(Want(count: 1)), from: "asker", now: start)
            for case .send("asker", .pair(let pair)) in actions {
                pairsMade += 1
                _ = state.receive(.link(LinkReport(peer: pair.peer, state: .failed)), from: "asker", now: start)
            }
        }
        #expect(pairsMade == 31, "pairs made within one instant: \(pairsMade)")
        let later = state.receive(.want(Want(count: 5)), from: "asker", now: start + .seconds(2))
        #expect(later.filter { if case .send("asker", .pair) = $0 { true } else { false } }.count == 2)
    }

    /// One address reconnecting in a loop, each session announcing 4 KiB URLs and parking:
    /// holdings and parked sessions stay within the per-address bounds.
    @Test func parkedSessionsAndTheirHoldingsAreBoundedPerAddress() throws {
        var configuration = OrchestratorState.Configuration()
        configuration.parkedPerAddress = 8
        configuration.holdingBytesPerAddress = 4 << 20
        configuration.holdingBytesPerPeer = 1 << 20
        var state = OrchestratorState(configuration: configuration)
        let url = "https://o.example/" + String(repeating: "u", count: 4000)
        var refusedAnnouncements = 0
        for round in 0..<40 {
            let id = PeerID("p\(round)")
            // IPv6 addresses of one /64 count as one address.
            _ = try join(&state, id, address: "2001:db8:1:2::\(String(round + 1, radix: 16))", at: start + .milliseconds(round))
            for batch in 0..<4 {
                let holdings = (0..<100).map { Holding(digest: Self.digest(round * 1000 + batch * 100 + $0), url: url + "\($0)", size: 1) }
                let answer = state.receive(.have(Have(holdings: holdings)), from: id, now: start)
                refusedAnnouncements += answer.count
            }
            _ = state.disconnect(id, now: start + .milliseconds(round))
        }
        let perHolding = 160 + url.utf8.count + 2
        #expect(state.holdingBytes <= configuration.holdingBytesPerAddress, "\(state.holdingBytes) bytes held")
        #expect(state.holdingBytes >= configuration.holdingBytesPerAddress - 200 * perHolding, "bound reached, not starved: \(state.holdingBytes)")
        #expect(state.parkedCount.sessions <= 8)
        #expect(refusedAnnouncements > 0)
        // Another address is not affected by the first one's use.
        _ = try join(&state, "other", address: "2001:db8:9:9::1")
        let holdings = (0..<100).map { Holding(digest: Self.digest(900_000 + $0), url: url + "\($0)", size: 1) }
        #expect(state.receive(.have(Have(holdings: holdings)), from: "other", now: start).isEmpty)
        // Once every parked session expires, nothing is left charged but the live session's.
        _ = state.disconnect("other", now: start, park: false)
        _ = state.expire(now: start + .seconds(3600))
        #expect(state.holdingBytes == 0 && state.parkedCount == (0, 0))
    }

    /// A resumed session takes its holdings back (charged once, not twice).
    @Test func aResumeMovesTheChargeInsteadOfDoublingIt() throws {
        var state = OrchestratorState()
        _ = try join(&state, "a")
        _ = state.receive(.have(Have(holdings: [Holding(digest: Self.digest(1), url: "https://o/x", size: 1)])), from: "a", now: start)
        let charged = state.holdingBytes
        _ = state.disconnect("a", now: start)
        #expect(state.holdingBytes == charged && state.parkedCount == (1, 1))
        let welcome = try join(&state, "fresh", resume: "token-a")
        #expect(welcome.resumed && welcome.peer == "a")
        #expect(state.holdingBytes == charged && state.parkedCount == (0, 0))
        _ = state.receive(.drop(Drop(digests: [Self.digest(1)])), from: "a", now: start)
        #expect(state.holdingBytes == 0)
    }
}

extension OrchestratorBoundsTests {
    /// URL → digest was last-writer-wins, and a liar's departure took the honest entry with it.
    @Test func aLiarNeitherReplacesNorRemovesAnHonestURLEntry() throws {
        var state = OrchestratorState()
        let url = "https://o.example/app.js"
        let (honest, forged) = (Self.digest(1), Self.digest(2))
        for id: PeerID in ["h1", "h2", "liar", "asker"] { _ = try join(&state, id) }
        _ = state.receive(.have(Have(holdings: [Holding(digest: honest, url: url, size: 1)])), from: "h1", now: start)
        _ = state.receive(.have(Have(holdings: [Holding(digest: honest, url: url, size: 1)])), from: "h2", now: start)
        _ = state.receive(.have(Have(holdings: [Holding(digest: forged, url: url, size: 1)])), from: "liar", now: start)
        func byURL() -> Holders? {
            for case .send("asker", .holders(let holders)) in state.receive(
                .whoHas(WhoHas(requestID: 1, url: url, limit: 8)), from: "asker", now: start)
            {
                return holders
            }
            return nil
        }
        #expect(byURL()?.digest == honest, "the last announcement won")
        _ = state.disconnect("liar", now: start, park: false)
        #expect(byURL()?.digest == honest && Set(byURL()?.peers ?? []) == ["h1", "h2"], "the liar's departure took the entry")
    }
}
