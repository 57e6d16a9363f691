import FugitiveServer
import FugitiveWire
import Testing

/// A session that resumes on another instance while the old one is slow: the two
/// instances' state machines and one in-memory store, with every flush in the order
/// that lost the session's holdings (the old instance's park landing after the new
/// instance's takeover).
@Suite struct ClusterResumeRaceTests {
    let cluster = ClusterStateTests()
    var now: ContinuousClock.Instant { cluster.now }
    var a: InstanceID { cluster.a }
    var b: InstanceID { cluster.b }
    let c = InstanceID("instance-c")
    static let digest = ResourceDigest(bytes: Array(repeating: 7, count: 32))!

    /// Three live instances in one store; x on A holds the digest. `parkedFirst`: x's
    /// connection to A dropped and A's flush of the park landed before anything else.
    func start(parkedFirst: Bool = false) async throws -> (MemoryClusterStore, OrchestratorState, OrchestratorState) {
        let store = MemoryClusterStore()
        for instance in [a, b, c] { _ = try await store.heartbeat(instance) }
        var stateA = cluster.instance(a)
        _ = try stateA.connect(Hello(swarm: "s", targetPeers: 2, maxPeers: 8), address: nil, newID: "x", newToken: "token-x", now: now)
        _ = stateA.receive(.have(Have(holdings: [Holding(digest: Self.digest, url: "https://o.example/a", size: 5)])), from: "x", now: now)
        if parkedFirst { _ = stateA.disconnect("x", now: now) }
        try await store.apply(stateA.drainDirectoryChanges(), from: a)
        return (store, stateA, cluster.instance(b))
    }

    func holders(_ store: MemoryClusterStore) async throws -> [PeerID] {
        try await store.holders(swarm: "s", digest: Self.digest, url: nil, excluding: c, limit: 10).peers.map(\.id)
    }

    @Test func aSessionResumedElsewhereKeepsItsHoldingsWhateverTheOldInstanceWritesLate() async throws {
        let started = try await start()
        let store = started.0
        var (stateA, stateB) = (started.1, started.2)
        #expect(try await holders(store) == ["x"])

        // x's connection to A broke; x reconnects to B, which finds the session in the store…
        let stored = try #require(try await store.session(resumeToken: "token-x", swarm: "s", excluding: b))
        // …while A, busy, notices the close only now and parks the session.
        _ = stateA.disconnect("x", now: now)
        let (welcome, actions) = try stateB.connect(
            Hello(swarm: "s", targetPeers: 2, maxPeers: 8, resumeToken: "token-x"), address: nil, newID: "fresh", newToken: "t", stored: stored,
            now: now)
        #expect(welcome.peer == "x" && welcome.resumed)
        try await store.apply(stateB.drainDirectoryChanges(), from: b)
        // A's flush of the park lands after B's takeover.
        try await store.apply(stateA.drainDirectoryChanges(), from: a)
        #expect(try await holders(store) == ["x"], "the old instance's late park took the session back")
        // Then A hears that the session moved, and flushes again.
        let moved = actions.compactMap { if case .forward(a, let message) = $0 { message } else { nil } }
        #expect(moved == [.sessionMoved(peer: "x", resumeToken: "token-x")])
        for message in moved { _ = stateA.deliver(message, from: b, now: now) }
        try await store.apply(stateA.drainDirectoryChanges(), from: a)
        #expect(try await holders(store) == ["x"])
        // A retires: what it wrote goes, x's row (B's now) stays.
        try await store.retire(a)
        #expect(try await holders(store) == ["x"])
        #expect(try await store.session(resumeToken: "token-x", swarm: "s", excluding: c)?.record.instance == b)
    }

    @Test func theParkedSessionExpiringWhileTheMoveIsInFlightDeletesNothingOfTheNewOwner() async throws {
        let started = try await start(parkedFirst: true)
        let store = started.0
        var (stateA, stateB) = (started.1, started.2)
        let stored = try #require(try await store.session(resumeToken: "token-x", swarm: "s", excluding: b))
        _ = try stateB.connect(
            Hello(swarm: "s", targetPeers: 2, maxPeers: 8, resumeToken: "token-x"), address: nil, newID: "fresh", newToken: "t", stored: stored,
            now: now)
        try await store.apply(stateB.drainDirectoryChanges(), from: b)
        // A's grace ends before `sessionMoved` arrives; its store was resynchronised meanwhile.
        stateA.resynchronize()
        try await store.apply(stateA.drainDirectoryChanges(), from: a)
        _ = stateA.expire(now: now + .seconds(3600))
        try await store.apply(stateA.drainDirectoryChanges(), from: a)
        #expect(try await holders(store) == ["x"])
        try await store.retire(a)
        #expect(try await holders(store) == ["x"])
    }
}
