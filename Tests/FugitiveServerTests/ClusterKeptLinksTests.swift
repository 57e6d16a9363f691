import FugitiveServer
import FugitiveWire
import Testing

/// A brief disconnect of a peer whose partner is on another instance: the link waits for
/// the resume as a link to a partner on the same instance does, and ends — through the
/// partner's instance — only when the session really ends.
@Suite struct ClusterKeptLinksTests {
    let cluster = ClusterStateTests()
    var now: ContinuousClock.Instant { cluster.now }
    var a: InstanceID { cluster.a }
    var b: InstanceID { cluster.b }

    /// x on A linked with y on B, both sides having said `connected`.
    func linked() throws -> (OrchestratorState, OrchestratorState) {
        var stateA = cluster.instance(a)
        var stateB = cluster.instance(b)
        try cluster.pairAcross(&stateA, &stateB)
        let fromX = cluster.split(stateA.receive(.link(LinkReport(peer: "y", state: .connected)), from: "x", now: now))
        _ = stateB.deliver(fromX.forwarded[0].1, from: a, now: now)
        let fromY = cluster.split(stateB.receive(.link(LinkReport(peer: "x", state: .connected)), from: "y", now: now))
        _ = stateA.deliver(fromY.forwarded[0].1, from: b, now: now)
        #expect(cluster.record(&stateA, "x").partners == ["y": true])
        return (stateA, stateB)
    }

    func resume(_ state: inout OrchestratorState, at time: ContinuousClock.Instant) throws -> [OrchestratorState.Action] {
        try state.connect(
            Hello(swarm: "s", targetPeers: 2, maxPeers: 8, resumeToken: "token-x"), address: nil, newID: "fresh", newToken: "t", now: time
        ).actions
    }

    @Test func aParkedSessionKeepsItsLinkToAPartnerOnAnotherInstanceUntilItExpires() throws {
        var (stateA, stateB) = try linked()
        // x's connection drops: parked, and B hears nothing.
        let parked = cluster.split(stateA.disconnect("x", now: now))
        #expect(parked.forwarded.isEmpty && parked.sent.isEmpty, "\(parked)")
        // x resumes on A: the link is there, signals cross again, y was never told.
        let resumed = cluster.split(try resume(&stateA, at: now + .milliseconds(500)))
        #expect(resumed.sent.isEmpty && resumed.forwarded.isEmpty, "\(resumed)")
        #expect(cluster.record(&stateA, "x").partners == ["y": true])
        let signal = Signal(peer: "y", kind: .candidate, candidate: "candidate:1 1 UDP 1 10.0.0.1 5000 typ host", mid: "0")
        #expect(cluster.split(stateA.receive(.signal(signal), from: "x", now: now)).forwarded.map(\.0) == [b])
        // Parked again, and this time the grace runs out: y hears it through B.
        _ = stateA.disconnect("x", now: now)
        let expired = cluster.split(stateA.expire(now: now + .seconds(3600)))
        #expect(expired.forwarded.map(\.1) == [.peerLeft(peer: "x", to: ["y"])])
        let told = cluster.split(stateB.deliver(expired.forwarded[0].1, from: a, now: now))
        #expect(told.sent.map(\.0) == ["y"] && told.sent.first?.1 == .peerLeft(PeerLeft(peer: "x")))
        #expect(stateA.remotePartnerCount == 0 && stateB.remotePartnerCount == 0)
    }

    @Test func aLinkThatEndsWhileTheSessionIsParkedIsGoneAtTheResume() throws {
        var (stateA, stateB) = try linked()
        _ = stateA.disconnect("x", now: now)
        // y's side of the link broke meanwhile; B tells A.
        let report = cluster.split(stateB.receive(.link(LinkReport(peer: "x", state: .disconnected)), from: "y", now: now))
        #expect(report.forwarded.map(\.1) == [.link(from: "y", to: "x", state: .disconnected, rttMillis: nil)])
        _ = stateA.deliver(report.forwarded[0].1, from: b, now: now)
        // The resume tells x the link is gone, and nobody else is told anything.
        let resumed = cluster.split(try resume(&stateA, at: now + .milliseconds(500)))
        #expect(resumed.sent.map(\.1) == [.peerLeft(PeerLeft(peer: "y"))] && resumed.forwarded.isEmpty, "\(resumed)")
        #expect(cluster.record(&stateA, "x").partners.isEmpty)
        #expect(stateA.remotePartnerCount == 0)
    }

    @Test func thePartnersInstanceDyingWhileTheSessionIsParkedEndsTheKeptLink() throws {
        var (stateA, _) = try linked()
        _ = stateA.disconnect("x", now: now)
        _ = stateA.instancesAlive([a])
        let resumed = cluster.split(try resume(&stateA, at: now + .milliseconds(500)))
        #expect(resumed.sent.map(\.1) == [.peerLeft(PeerLeft(peer: "y"))], "\(resumed)")
    }
}
