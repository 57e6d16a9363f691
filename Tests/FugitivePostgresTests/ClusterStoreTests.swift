import Foundation
import FugitivePostgres
import FugitiveServer
import FugitiveWire
import Testing

/// The store contract, run against the in-memory store and against PostgreSQL: both must
/// answer the same.
@Suite struct ClusterStoreTests {
    enum Kind: String, CaseIterable, Sendable { case memory, postgres }

    static let kinds: [Kind] = TestPostgres.enabled ? Kind.allCases : [.memory]
    let a = InstanceID("aaaa")
    let b = InstanceID("bbbb")
    static let digest = ResourceDigest(bytes: Array(repeating: 3, count: 32))!

    /// Runs `body` with a prepared store of `kind`, closed afterwards.
    func with(_ kind: Kind, _ body: (any ClusterStore) async throws -> Void) async throws {
        switch kind {
        case .memory:
            try await body(MemoryClusterStore())
        case .postgres:
            let store = PostgresClusterStore(location: try await TestPostgres.database(), logger: TestPostgres.logger)
            defer { store.close() }
            try await store.prepare()
            // A second instance starting against the same database migrates nothing twice.
            try await store.prepare()
            try await body(store)
        }
    }

    func peer(_ id: PeerID, on instance: InstanceID, address: String? = nil, free: Int = 4, live: Bool = true, token: String? = nil) -> PeerRecord {
        PeerRecord(
            id: id, instance: instance, swarm: "s", resumeToken: token ?? "token-\(id)", maxPeers: 8, freeSlots: free, address: address,
            live: live, partners: free < 8 ? ["partner": true] : [:])
    }

    @Test(arguments: kinds) func directoryAnswersOpenPeersNearestFirst(_ kind: Kind) async throws {
        try await with(kind) { store in
            #expect(try await store.heartbeat(a) == true)
            #expect(try await store.heartbeat(a) == false)
            _ = try await store.heartbeat(b)
            var changes = DirectoryChanges()
            changes.upserted = [
                peer("far", on: b, address: "192.168.1.1"), peer("mid", on: b, address: "10.0.9.9"),
                peer("near", on: b, address: "10.0.0.9"), peer("full", on: b, address: "10.0.0.8", free: 0),
                peer("parked", on: b, address: "10.0.0.7", live: false), peer("mine", on: a, address: "10.0.0.6"),
            ]
            try await store.apply(changes, from: b)
            let open = try await store.openPeers(swarm: "s", near: "10.0.0.1", excluding: a, skipping: [], limit: 10)
            #expect(open.map(\.id) == ["near", "mid", "far"])
            #expect(open.first?.address == "10.0.0.9" && open.first?.freeSlots == 4)
            let skipping = try await store.openPeers(swarm: "s", near: "10.0.0.1", excluding: a, skipping: ["near"], limit: 1)
            #expect(skipping.map(\.id) == ["mid"])
            #expect(try await store.openPeers(swarm: "other", near: nil, excluding: a, skipping: [], limit: 10).isEmpty)
            // Removal by another instance than the owner does nothing.
            var removal = DirectoryChanges()
            removal.removed = ["near"]
            try await store.apply(removal, from: a)
            #expect(try await store.openPeers(swarm: "s", near: nil, excluding: a, skipping: [], limit: 10).count == 3)
            try await store.apply(removal, from: b)
            #expect(try await store.openPeers(swarm: "s", near: nil, excluding: a, skipping: [], limit: 10).count == 2)
        }
    }

    @Test(arguments: kinds) func holdersBySessionAndExpiry(_ kind: Kind) async throws {
        try await with(kind) { store in
            _ = try await store.heartbeat(a)
            _ = try await store.heartbeat(b)
            var changes = DirectoryChanges()
            changes.upserted = [peer("h1", on: b), peer("h2", on: b, live: false)]
            changes.holdingsAdded = [
                "h1": [Holding(digest: Self.digest, url: "https://o.example/x", size: 42)],
                "h2": [Holding(digest: Self.digest, url: "https://o.example/x", size: 42)],
            ]
            try await store.apply(changes, from: b)
            let byDigest = try await store.holders(swarm: "s", digest: Self.digest, url: nil, excluding: a, limit: 10)
            #expect(byDigest.peers.map(\.id) == ["h1"], "a parked session is no holder")
            let byURL = try await store.holders(swarm: "s", digest: nil, url: "https://o.example/x", excluding: a, limit: 10)
            #expect(byURL.digest == Self.digest && byURL.peers.map(\.id) == ["h1"])
            #expect(try await store.holders(swarm: "s", digest: Self.digest, url: nil, excluding: b, limit: 10).peers.isEmpty)
            // The session can be resumed elsewhere, with its holdings and links.
            let stored = try await store.session(resumeToken: "token-h1", swarm: "s", excluding: a)
            #expect(stored?.record.id == "h1" && stored?.holdings.map(\.size) == [42])
            #expect(stored?.record.partners == ["partner": true])
            #expect(try await store.session(resumeToken: "token-h1", swarm: "other", excluding: a) == nil)
            // Dropped holdings go.
            var drop = DirectoryChanges()
            drop.holdingsRemoved = ["h1": [Self.digest]]
            try await store.apply(drop, from: b)
            #expect(try await store.holders(swarm: "s", digest: Self.digest, url: nil, excluding: a, limit: 10).peers.isEmpty)
            // b stops beating: after the expiry its rows are gone, holders and all.
            var again = DirectoryChanges()
            again.holdingsAdded = ["h1": [Holding(digest: Self.digest, url: "https://o.example/x", size: 42)]]
            try await store.apply(again, from: b)
            #expect(try await store.holders(swarm: "s", digest: Self.digest, url: nil, excluding: a, limit: 10).peers.count == 1)
            try await Task.sleep(for: .milliseconds(1200))
            _ = try await store.heartbeat(a)
            #expect(try await store.expireInstances(silentFor: .seconds(1)) == [a])
            #expect(try await store.holders(swarm: "s", digest: Self.digest, url: nil, excluding: a, limit: 10).peers.isEmpty)
            #expect(try await store.session(resumeToken: "token-h1", swarm: "s", excluding: a) == nil)
            // b comes back: its row is new, so it must write its directory again.
            #expect(try await store.heartbeat(b) == true)
        }
    }

    /// x moved from a to b (generation 1). a's late writes of its old session (a park, its
    /// holdings, a removal) take nothing back, and a's retirement leaves b's row alone.
    @Test(arguments: kinds) func anOldOwnersLateWritesDoNotTakeBackAMovedSession(_ kind: Kind) async throws {
        try await with(kind) { store in
            let c = InstanceID("cccc")
            for instance in [a, b, c] { _ = try await store.heartbeat(instance) }
            let holding = Holding(digest: Self.digest, url: "https://o.example/x", size: 42)
            let other = Holding(digest: ResourceDigest(bytes: Array(repeating: 4, count: 32))!, url: "https://o.example/y", size: 7)
            var first = DirectoryChanges()
            first.upserted = [peer("x", on: a)]
            first.holdingsAdded = ["x": [holding]]
            try await store.apply(first, from: a)
            var takeover = DirectoryChanges()
            var moved = peer("x", on: b)
            moved.generation = 1
            takeover.upserted = [moved]
            takeover.holdingsAdded = ["x": [holding]]
            try await store.apply(takeover, from: b)
            // a, late: x parked (generation 0), a holding added and one dropped, then removed.
            var late = DirectoryChanges()
            late.upserted = [peer("x", on: a, live: false)]
            late.holdingsAdded = ["x": [other]]
            late.holdingsRemoved = ["x": [Self.digest]]
            try await store.apply(late, from: a)
            var removal = DirectoryChanges()
            removal.removed = ["x"]
            try await store.apply(removal, from: a)
            let holders = try await store.holders(swarm: "s", digest: Self.digest, url: nil, excluding: c, limit: 10)
            #expect(holders.peers.map(\.id) == ["x"] && holders.peers.first?.instance == b && holders.peers.first?.generation == 1)
            #expect(try await store.holders(swarm: "s", digest: other.digest, url: nil, excluding: c, limit: 10).peers.isEmpty)
            #expect(try await store.session(resumeToken: "token-x", swarm: "s", excluding: c)?.record.partners == ["partner": true])
            try await store.retire(a)
            #expect(try await store.holders(swarm: "s", digest: Self.digest, url: nil, excluding: c, limit: 10).peers.map(\.id) == ["x"])
            // b's own writes of generation 1 still count.
            var park = DirectoryChanges()
            moved.live = false
            park.upserted = [moved]
            try await store.apply(park, from: b)
            #expect(try await store.holders(swarm: "s", digest: Self.digest, url: nil, excluding: c, limit: 10).peers.isEmpty)
        }
    }

    @Test(arguments: kinds) func theDigestRegistryKeepsWhatHasNotExpired(_ kind: Kind) async throws {
        try await with(kind) { store in
            let now = Date().timeIntervalSince1970
            try await store.register(RegisteredDigest(digest: Self.digest, size: 7, expiresAt: now + 60), for: "https://o.example/fresh")
            try await store.register(RegisteredDigest(digest: Self.digest, size: 7, expiresAt: now - 1), for: "https://o.example/stale")
            #expect(try await store.registeredDigest(for: "https://o.example/fresh")?.size == 7)
            #expect(try await store.registeredDigest(for: "https://o.example/stale") == nil)
            #expect(try await store.registeredDigest(for: "https://o.example/never") == nil)
            // With the piece tree's root, which comes back as it went in.
            let rooted = RegisteredDigest(
                digest: Self.digest, size: 7, expiresAt: (now + 60).rounded(), pieceRoot: ResourceDigest.sha256(of: [1]), pieceSize: 1 << 20)
            try await store.register(rooted, for: "https://o.example/rooted")
            let back = try await store.registeredDigest(for: "https://o.example/rooted")
            #expect(back?.pieceRoot == rooted.pieceRoot && back?.pieceSize == rooted.pieceSize)
        }
    }

    @Test(arguments: kinds) func messagesArriveInOrderLargeOnesByReference(_ kind: Kind) async throws {
        try await with(kind) { store in
            let (ready, readyContinuation) = AsyncStream.makeStream(of: Void.self)
            let (received, receivedContinuation) = AsyncStream.makeStream(of: ClusterEnvelope.self)
            let listener = Task {
                try await store.receive(as: b, onReady: { readyContinuation.yield() }) { receivedContinuation.yield($0) }
            }
            defer { listener.cancel() }
            for await _ in ready { break }
            let big = String(repeating: "a=candidate-line ", count: 900)  // beyond NOTIFY's 8000 bytes once encoded
            var messages: [(to: InstanceID, message: ClusterMessage)] = (0..<50).map {
                (b, .signal(to: "y", signal: Signal(peer: "x", kind: .candidate, candidate: "candidate:\($0)")))
            }
            messages.insert((b, .signal(to: "y", signal: Signal(peer: "x", kind: .offer, sdp: big))), at: 10)
            // Identical messages are still two messages.
            messages.append(messages.last!)
            try await store.send(Array(messages.prefix(30)), from: a)
            try await store.send(Array(messages.dropFirst(30)), from: a)
            var got: [ClusterMessage] = []
            for await envelope in received {
                #expect(envelope.from == a)
                got.append(envelope.message)
                if got.count == messages.count { break }
            }
            #expect(got == messages.map(\.message))
        }
    }
}
