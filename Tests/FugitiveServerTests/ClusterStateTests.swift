import FugitiveServer
import FugitiveWire
import Testing

/// Two instances' state machines, with the messages between them carried by hand: the
/// cross-instance protocol without sockets or a store.
@Suite struct ClusterStateTests {
    typealias Action = OrchestratorState.Action
    let now = ContinuousClock.now
    let a = InstanceID("instance-a")
    let b = InstanceID("instance-b")
    static let digest = ResourceDigest(bytes: Array(repeating: 9, count: 32))!

    func instance(_ id: InstanceID) -> OrchestratorState {
        var state = OrchestratorState()
        state.joinCluster(as: id)
        _ = state.drainDirectoryChanges()
        return state
    }

    func join(_ state: inout OrchestratorState, _ id: PeerID, max: Int = 8) throws {
        _ = try state.connect(Hello(swarm: "s", targetPeers: 2, maxPeers: max), address: nil, newID: id, newToken: "token-\(id)", now: now)
    }

    func record(_ state: inout OrchestratorState, _ id: PeerID) -> PeerRecord {
        state.drainDirectoryChanges().upserted.first { $0.id == id }!
    }

    /// Splits actions into what goes to peers and what goes to the other instance.
    func split(_ actions: [Action]) -> (sent: [(PeerID, ServerMessage)], forwarded: [(InstanceID, ClusterMessage)]) {
        var sent: [(PeerID, ServerMessage)] = []
        var forwarded: [(InstanceID, ClusterMessage)] = []
        for action in actions {
            switch action {
            case .send(let id, let message): sent.append((id, message))
            case .forward(let instance, let message): forwarded.append((instance, message))
            default: break
            }
        }
        return (sent, forwarded)
    }

    /// x on A pairs with y on B, through request and answer.
    func pairAcross(_ stateA: inout OrchestratorState, _ stateB: inout OrchestratorState) throws {
        try join(&stateA, "x")
        try join(&stateB, "y")
        let y = record(&stateB, "y")
        let want = stateA.receive(.want(Want(count: 1)), from: "x", now: now)
        #expect(want.contains { if case .findRemotePartners("x", 1) = $0 { true } else { false } })
        let request = split(stateA.requestRemotePair("x", with: y, now: now))
        #expect(request.sent.isEmpty, "x is told pair only once B accepted")
        #expect(request.forwarded.count == 1 && request.forwarded[0].0 == b)
        let answer = split(stateB.deliver(request.forwarded[0].1, from: a, now: now))
        #expect(answer.sent.map(\.0) == ["y"])
        #expect(answer.sent.first?.1 == .pair(Pair(peer: "x", offerer: false)))
        #expect(answer.forwarded.first?.1 == .pairAnswer(from: "x", to: "y", accepted: true))
        let confirmed = split(stateA.deliver(answer.forwarded[0].1, from: b, now: now))
        #expect(confirmed.sent.first?.0 == "x")
        #expect(confirmed.sent.first?.1 == .pair(Pair(peer: "y", offerer: true)))
    }

    @Test func pairsAcrossInstancesOnlyOnceThePartnersInstanceAccepts() throws {
        var stateA = instance(a)
        var stateB = instance(b)
        try pairAcross(&stateA, &stateB)
        #expect(stateA.remotePartnerCount == 1 && stateB.remotePartnerCount == 1)
        // The directory row of each side lists the pending partner.
        #expect(record(&stateA, "x").partners == ["y": false])
    }

    @Test func aFullPartnerRefusesAndTheReservedSlotIsFreed() throws {
        var stateA = instance(a)
        var stateB = instance(b)
        try join(&stateA, "x", max: 1)
        try join(&stateB, "y", max: 1)
        let y = record(&stateB, "y")
        try join(&stateB, "z", max: 1)
        // y fills up on B before A's request arrives.
        _ = stateB.receive(.want(Want(count: 1)), from: "z", now: now)
        let request = split(stateA.requestRemotePair("x", with: y, now: now))
        // Meanwhile x's only slot is reserved: a second request finds no room.
        #expect(stateA.requestRemotePair("x", with: y, now: now).isEmpty)
        let answer = split(stateB.deliver(request.forwarded[0].1, from: a, now: now))
        #expect(answer.sent.isEmpty)
        #expect(answer.forwarded.first?.1 == .pairAnswer(from: "x", to: "y", accepted: false))
        #expect(split(stateA.deliver(answer.forwarded[0].1, from: b, now: now)).sent.isEmpty)
        #expect(stateA.remotePartnerCount == 0)
        #expect(record(&stateA, "x").freeSlots == 1)
    }

    /// x on A and y on B ask at the same moment, each instance for the other's peer: the
    /// request from the smaller id is accepted on both sides, the other refused, and the
    /// pair forms once (refusing both livelocked peers that kept asking in step).
    @Test func crossedPairRequestsPairOnce() throws {
        var stateA = instance(a)
        var stateB = instance(b)
        try join(&stateA, "x")
        try join(&stateB, "y")
        let (x, y) = (record(&stateA, "x"), record(&stateB, "y"))
        let fromA = split(stateA.requestRemotePair("x", with: y, now: now)).forwarded[0].1
        let fromB = split(stateB.requestRemotePair("y", with: x, now: now)).forwarded[0].1
        // "x" < "y": B accepts x's request although y's own is pending.
        let atB = split(stateB.deliver(fromA, from: a, now: now))
        #expect(atB.sent.map(\.0) == ["y"])
        #expect(atB.sent.first?.1 == .pair(Pair(peer: "x", offerer: false)))
        #expect(atB.forwarded.first?.1 == .pairAnswer(from: "x", to: "y", accepted: true))
        let atA = split(stateA.deliver(fromB, from: b, now: now))
        #expect(atA.sent.isEmpty)
        #expect(atA.forwarded.first?.1 == .pairAnswer(from: "y", to: "x", accepted: false))
        // The answers: x is told to offer; y's refusal changes nothing on B.
        let confirmed = split(stateA.deliver(atB.forwarded[0].1, from: b, now: now))
        #expect(confirmed.sent.first?.0 == "x")
        #expect(confirmed.sent.first?.1 == .pair(Pair(peer: "y", offerer: true)))
        #expect(split(stateB.deliver(atA.forwarded[0].1, from: a, now: now)).sent.isEmpty)
        #expect(record(&stateA, "x").partners == ["y": false])
        #expect(record(&stateB, "y").partners == ["x": false])
        #expect(stateA.remotePartnerCount == 1 && stateB.remotePartnerCount == 1)
    }

    @Test func signalsCrossOnlyBetweenPartners() throws {
        var stateA = instance(a)
        var stateB = instance(b)
        try pairAcross(&stateA, &stateB)
        let offer = Signal(peer: "y", kind: .offer, sdp: "v=0")
        let relayed = split(stateA.receive(.signal(offer), from: "x", now: now))
        #expect(relayed.forwarded.count == 1)
        guard case .signal(let to, let signal) = relayed.forwarded[0].1 else { Issue.record("not a signal"); return }
        #expect(to == "y" && signal.peer == "x")
        let delivered = split(stateB.deliver(relayed.forwarded[0].1, from: a, now: now))
        #expect(delivered.sent.first?.0 == "y")
        #expect(delivered.sent.first?.1 == .signal(Signal(peer: "x", kind: .offer, sdp: "v=0")))
        // A stranger on A is refused at A; a forged message naming a non-partner is dropped at B.
        try join(&stateA, "stranger")
        let refused = split(stateA.receive(.signal(offer), from: "stranger", now: now))
        #expect(refused.forwarded.isEmpty)
        #expect(refused.sent.first.map { if case .error(let e) = $0.1 { e.code == .notPaired } else { false } } == true)
        let forged = ClusterMessage.signal(to: "y", signal: Signal(peer: "stranger", kind: .offer, sdp: "v=0"))
        #expect(stateB.deliver(forged, from: a, now: now).isEmpty)
    }

    @Test func linkReportsAndDeparturesReachTheOtherSide() throws {
        var stateA = instance(a)
        var stateB = instance(b)
        try pairAcross(&stateA, &stateB)
        let connected = split(stateA.receive(.link(LinkReport(peer: "y", state: .connected, rttMillis: 3)), from: "x", now: now))
        #expect(connected.forwarded.first?.1 == .link(from: "x", to: "y", state: .connected, rttMillis: 3))
        _ = stateB.deliver(connected.forwarded[0].1, from: a, now: now)
        // One side's word is not enough: the link is up once y says so too.
        #expect(record(&stateB, "y").partners == ["x": false])
        let confirmed = split(stateB.receive(.link(LinkReport(peer: "x", state: .connected)), from: "y", now: now))
        #expect(record(&stateB, "y").partners == ["x": true])
        _ = stateA.deliver(confirmed.forwarded[0].1, from: b, now: now)
        #expect(record(&stateA, "x").partners == ["y": true])
        // x's session ends: y is told, through B.
        let left = split(stateA.disconnect("x", now: now, park: false))
        #expect(left.forwarded.first?.1 == .peerLeft(peer: "x", to: ["y"]))
        let told = split(stateB.deliver(left.forwarded[0].1, from: a, now: now))
        #expect(told.sent.first?.0 == "y")
        #expect(told.sent.first?.1 == .peerLeft(PeerLeft(peer: "x")))
        #expect(stateB.remotePartnerCount == 0)
        #expect(stateA.drainDirectoryChanges().removed == ["x"])
    }

    @Test func partnersOfADeadInstancesPeersAreToldTheyLeft() throws {
        var stateA = instance(a)
        var stateB = instance(b)
        try pairAcross(&stateA, &stateB)
        #expect(split(stateB.instancesAlive([a, b])).sent.isEmpty)
        let told = split(stateB.instancesAlive([b]))
        #expect(told.sent.map(\.0) == ["y"])
        #expect(told.sent.first?.1 == .peerLeft(PeerLeft(peer: "x")))
        #expect(record(&stateB, "y").partners.isEmpty)
    }

    @Test func aSessionResumedElsewhereTakesItsHoldingsAndTheOldInstanceLetsGo() throws {
        var stateA = instance(a)
        var stateB = instance(b)
        try join(&stateA, "x")
        _ = stateA.receive(.have(Have(holdings: [Holding(digest: Self.digest, url: "https://o.example/a", size: 5)])), from: "x", now: now)
        let changes = stateA.drainDirectoryChanges()
        #expect(changes.holdingsAdded["x"]?.map(\.digest) == [Self.digest])
        let stored = StoredSession(record: changes.upserted.first { $0.id == "x" }!, holdings: changes.holdingsAdded["x"]!)
        let (welcome, actions) = try stateB.connect(
            Hello(swarm: "s", targetPeers: 2, maxPeers: 8, resumeToken: "token-x"), address: nil, newID: "fresh", newToken: "t2",
            stored: stored, now: now)
        #expect(welcome.peer == "x" && welcome.resumed)
        #expect(split(actions).forwarded.first?.1 == .sessionMoved(peer: "x", resumeToken: "token-x"))
        // B now indexes x's holding and owns its row.
        #expect(stateB.drainDirectoryChanges().holdingsAdded["x"]?.count == 1)
        let moved = stateA.deliver(.sessionMoved(peer: "x", resumeToken: "token-x"), from: b, now: now)
        #expect(moved.contains { if case .close("x", let e) = $0 { e.code == .resumeRejected } else { false } })
        #expect(!stateA.isConnected("x"))
        // The row is B's now: A must not delete it.
        #expect(!stateA.drainDirectoryChanges().removed.contains("x"))
        // A made-up token with no stored session starts a fresh session.
        let fresh = try stateB.connect(
            Hello(swarm: "s", targetPeers: 2, maxPeers: 8, resumeToken: "made-up"), address: nil, newID: "n", newToken: "t3", now: now)
        #expect(fresh.welcome.peer == "n" && !fresh.welcome.resumed)
    }

    @Test func aSessionResumedOnItsPartnersInstanceKeepsTheLink() throws {
        var stateA = instance(a)
        var stateB = instance(b)
        try pairAcross(&stateA, &stateB)
        let up = split(stateA.receive(.link(LinkReport(peer: "y", state: .connected)), from: "x", now: now))
        _ = stateB.deliver(up.forwarded[0].1, from: a, now: now)
        let confirmed = split(stateB.receive(.link(LinkReport(peer: "x", state: .connected)), from: "y", now: now))
        _ = stateA.deliver(confirmed.forwarded[0].1, from: b, now: now)
        #expect(record(&stateB, "y").partners == ["x": true])
        // x resumes on B, where y is: their WebRTC link goes on, nobody is told peer-left.
        let stored = StoredSession(record: record(&stateA, "x"), holdings: [])
        let (welcome, actions) = try stateB.connect(
            Hello(swarm: "s", targetPeers: 2, maxPeers: 8, resumeToken: "token-x"), address: nil, newID: "fresh", newToken: "t2",
            stored: stored, now: now)
        #expect(welcome.peer == "x" && welcome.resumed)
        #expect(split(actions).sent.isEmpty, "\(split(actions).sent)")
        #expect(stateB.remotePartnerCount == 0)
        let rows = stateB.drainDirectoryChanges().upserted
        #expect(rows.first { $0.id == "x" }?.partners == ["y": true])
        #expect(rows.first { $0.id == "y" }.map { $0.partners } ?? ["x": true] == ["x": true])
        // A lets x go and tells B that x left y: x lives on B now, so that changes nothing.
        let moved = split(stateA.deliver(.sessionMoved(peer: "x", resumeToken: "token-x"), from: b, now: now))
        #expect(moved.forwarded.map(\.1) == [.peerLeft(peer: "x", to: ["y"])])
        for (_, message) in moved.forwarded { #expect(split(stateB.deliver(message, from: a, now: now)).sent.isEmpty) }
        #expect(stateB.drainDirectoryChanges().upserted.first { $0.id == "y" } == nil, "y's partners did not change")
    }

    @Test func theJournalRecordsParkingExpiryAndHoldings() throws {
        var stateA = instance(a)
        try join(&stateA, "x")
        _ = stateA.receive(.have(Have(holdings: [Holding(digest: Self.digest, url: "https://o.example/a", size: 5)])), from: "x", now: now)
        _ = stateA.drainDirectoryChanges()
        _ = stateA.receive(.drop(Drop(digests: [Self.digest])), from: "x", now: now)
        #expect(stateA.drainDirectoryChanges().holdingsRemoved["x"] == [Self.digest])
        _ = stateA.disconnect("x", now: now)
        let parked = stateA.drainDirectoryChanges()
        #expect(parked.upserted.first?.live == false && parked.removed.isEmpty)
        _ = stateA.expire(now: now + .seconds(120))
        #expect(stateA.drainDirectoryChanges().removed == ["x"])
        // A resynchronisation writes every live session again.
        try join(&stateA, "y")
        _ = stateA.drainDirectoryChanges()
        stateA.resynchronize()
        #expect(stateA.drainDirectoryChanges().upserted.map(\.id) == ["y"])
    }
}
