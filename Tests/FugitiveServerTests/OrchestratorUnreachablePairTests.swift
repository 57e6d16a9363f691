import FugitiveServer
import FugitiveWire
import Testing

/// Pairs that never become links (ICE found no path, a side gave up): the server tells
/// both, counts it, and does not pair the two into the same failure again for
/// ``OrchestratorState/Configuration/unreachableRetry``.
@Suite struct OrchestratorUnreachablePairTests {
    typealias Action = OrchestratorState.Action
    let start = ContinuousClock.now

    func state() -> OrchestratorState {
        var configuration = OrchestratorState.Configuration()
        configuration.unreachableRetry = .seconds(120)
        configuration.heartbeatTimeout = .seconds(3600)
        return OrchestratorState(configuration: configuration)
    }

    func join(_ state: inout OrchestratorState, _ id: PeerID, at seconds: Int = 0) throws {
        _ = try state.connect(
            Hello(swarm: "s", targetPeers: 4, maxPeers: 4), address: nil, newID: id, newToken: "token-\(id)", now: start + .seconds(seconds))
    }

    func partners(_ actions: [Action], of id: PeerID) -> [PeerID] {
        actions.compactMap { if case .send(id, .pair(let pair)) = $0 { pair.peer } else { nil } }
    }

    @Test func aPairReportedFailedIsNotMadeAgainUntilTheRetry() throws {
        var state = state()
        try join(&state, "a")
        try join(&state, "b")
        #expect(partners(state.receive(.want(Want(count: 1)), from: "a", now: start), of: "a") == ["b"])
        let failed = state.receive(.link(LinkReport(peer: "a", state: .failed)), from: "b", now: start + .seconds(15))
        #expect(
            failed == [
                .send("b", .unpair(Unpair(peer: "a", reason: .pairFailed))), .send("a", .unpair(Unpair(peer: "b", reason: .pairFailed))),
            ])
        // Neither side gets the other again, however often it asks.
        #expect(partners(state.receive(.want(Want(count: 2)), from: "a", now: start + .seconds(16)), of: "a").isEmpty)
        #expect(partners(state.receive(.want(Want(count: 2)), from: "b", now: start + .seconds(17)), of: "b").isEmpty)
        // Others still pair with both.
        try join(&state, "c", at: 18)
        #expect(partners(state.receive(.want(Want(count: 2)), from: "a", now: start + .seconds(19)), of: "a") == ["c"])
        // Once the retry has passed, the two are tried again.
        #expect(partners(state.receive(.want(Want(count: 1)), from: "b", now: start + .seconds(136)), of: "b") == ["a"])
    }

    @Test func aPairThatTimedOutIsNotMadeAgain() throws {
        var state = state()
        try join(&state, "a")
        try join(&state, "b")
        _ = state.receive(.want(Want(count: 1)), from: "a", now: start)
        let expired = state.expire(now: start + .seconds(21))
        #expect(expired.contains(.send("a", .unpair(Unpair(peer: "b", reason: .pairTimeout)))))
        #expect(partners(state.receive(.want(Want(count: 1)), from: "b", now: start + .seconds(22)), of: "b").isEmpty)
    }

    /// A link that was up and went down is no sign that the two cannot reach each other.
    @Test func aLinkThatEndedAfterConnectingMayBeMadeAgain() throws {
        var state = state()
        try join(&state, "a")
        try join(&state, "b")
        _ = state.receive(.want(Want(count: 1)), from: "a", now: start)
        _ = state.receive(.link(LinkReport(peer: "b", state: .connected)), from: "a", now: start + .seconds(1))
        _ = state.receive(.link(LinkReport(peer: "a", state: .connected)), from: "b", now: start + .seconds(1))
        #expect(state.linkCount == 1)
        let ended = state.receive(.link(LinkReport(peer: "b", state: .disconnected)), from: "a", now: start + .seconds(5))
        #expect(ended.contains(.send("a", .unpair(Unpair(peer: "b", reason: .linkEnded)))))
        #expect(partners(state.receive(.want(Want(count: 1)), from: "a", now: start + .seconds(6)), of: "a") == ["b"])
    }

    /// `disconnected` while a pair is pending is the end of an earlier link between the two
    /// (reported after the server paired them again): no sign that they cannot connect.
    @Test func aStaleDisconnectWhilePendingDoesNotKeepTheTwoApart() throws {
        var state = state()
        try join(&state, "a")
        try join(&state, "b")
        _ = state.receive(.want(Want(count: 1)), from: "a", now: start)
        let ended = state.receive(.link(LinkReport(peer: "a", state: .disconnected)), from: "b", now: start + .seconds(1))
        #expect(ended.contains(.send("b", .unpair(Unpair(peer: "a", reason: .linkEnded)))))
        #expect(partners(state.receive(.want(Want(count: 1)), from: "a", now: start + .seconds(2)), of: "a") == ["b"])
    }
}
