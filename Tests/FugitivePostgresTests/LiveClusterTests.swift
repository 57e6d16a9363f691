import FugitivePostgres
import FugitiveServer
import FugitiveServerTesting
import FugitiveTestSupport
import FugitiveWire
import Testing

extension LiveClusterSuites {
    /// Two live instances sharing one store (in memory, and PostgreSQL), real WebSocket
    /// peers on each.
    @Suite("Live cluster: two instances")
    struct LiveClusterTests {
        static let kinds: [ClusterStoreTests.Kind] = ClusterStoreTests.kinds
        static func digest(_ n: UInt8) -> ResourceDigest { ResourceDigest(bytes: [UInt8](repeating: n, count: 32))! }

        /// Two instances on one store, with quick heartbeats and expiry.
        func withCluster(_ kind: ClusterStoreTests.Kind, _ body: (LiveServer, LiveServer) async throws -> Void) async throws {
            let store: any ClusterStore
            var postgres: PostgresClusterStore?
            switch kind {
            case .memory: store = MemoryClusterStore()
            case .postgres:
                postgres = PostgresClusterStore(location: try await TestPostgres.database(), logger: TestPostgres.logger)
                store = postgres!
            }
            defer { postgres?.close() }
            let configure: (inout ServerConfiguration) -> Void = {
                // Quick beats, and an expiry far above them: on a loaded machine a beat
                // can be seconds late (a test process whose threads are all busy), and a
                // live instance must not expire.
                $0.cluster.heartbeatInterval = .milliseconds(200)
                $0.cluster.instanceExpiry = .seconds(10)
                $0.cluster.flushInterval = .milliseconds(50)
                $0.orchestrator.resumeGrace = .seconds(30)
            }
            let a = try await LiveServer.startBehindProxy(cluster: store, configure)
            let b = try await LiveServer.startBehindProxy(cluster: store, configure)
            do {
                try await body(a, b)
            } catch {
                await a.stop()
                await b.stop()
                throw error
            }
            await a.stop()
            await b.stop()
        }

        /// Asks for a partner until one comes: the other instance's directory rows reach
        /// the store within a flush interval.
        func pairAcross(_ x: TestPeer, _ y: TestPeer) async throws -> (Pair, Pair) {
            let deadline = ContinuousClock.now + .seconds(10)
            while ContinuousClock.now < deadline {
                x.send(.want(Want(count: 1)))
                if case .pair(let pair)? = try? await x.next(timeout: .milliseconds(300)) {
                    let other = try await y.expect { if case .pair(let p) = $0 { p } else { nil } }
                    return (pair, other)
                }
            }
            throw TestFailure("no pair across instances within 10 s")
        }

        /// Asks who has `digest` until the answer has `count` holders.
        func holders(_ asker: TestPeer, _ digest: ResourceDigest, count: Int) async throws -> [PeerID] {
            let deadline = ContinuousClock.now + .seconds(10)
            var last: [PeerID] = []
            var request: UInt32 = 100
            while ContinuousClock.now < deadline {
                request += 1
                asker.send(.whoHas(WhoHas(requestID: request, digest: digest, limit: 8)))
                let answer = try await asker.expect { if case .holders(let h) = $0, h.requestID == request { h } else { nil } }
                last = answer.peers
                if last.count == count { return last }
                try await Task.sleep(for: .milliseconds(100))
            }
            throw TestFailure("who-has found \(last), wanted \(count) holders")
        }

        @Test(arguments: kinds) func peersOnTwoInstancesPairSignalAndShareHolders(_ kind: ClusterStoreTests.Kind) async throws {
            try await withCluster(kind) { serverA, serverB in
                let x = TestPeer(serverA.signalURL)
                let local = TestPeer(serverA.signalURL)
                let y = TestPeer(serverB.signalURL)
                let idx = try await x.join(target: 1, max: 1).peer
                let idLocal = try await local.join(target: 0, max: 0).peer
                let idy = try await y.join().peer
                let (pairX, pairY) = try await pairAcross(x, y)
                #expect(pairX == Pair(peer: idy, offerer: true))
                #expect(pairY == Pair(peer: idx, offerer: false))
                // Signalling crosses in both directions, in order.
                x.send(.signal(Signal(peer: idy, kind: .offer, sdp: "v=0 offer")))
                for n in 0..<5 { x.send(.signal(Signal(peer: idy, kind: .candidate, candidate: "candidate:\(n)"))) }
                #expect(try await y.next() == .signal(Signal(peer: idx, kind: .offer, sdp: "v=0 offer")))
                for n in 0..<5 { #expect(try await y.next() == .signal(Signal(peer: idx, kind: .candidate, candidate: "candidate:\(n)"))) }
                y.send(.signal(Signal(peer: idx, kind: .answer, sdp: "v=0 answer")))
                #expect(try await x.next() == .signal(Signal(peer: idy, kind: .answer, sdp: "v=0 answer")))
                x.send(.link(LinkReport(peer: idy, state: .connected, rttMillis: 2)))
                y.send(.link(LinkReport(peer: idx, state: .connected, rttMillis: 2)))
                // A peer on A that is not y's partner cannot signal it.
                local.send(.signal(Signal(peer: idy, kind: .offer, sdp: "v=0")))
                let refused = try await local.expect { if case .error(let e) = $0 { e } else { nil } }
                #expect(refused.code == .notPaired)
                #expect(await y.isSilent())
                // who-has sees holders on both instances.
                let holding = Holding(digest: Self.digest(5), url: "https://example.org/5", size: 5)
                y.send(.have(Have(holdings: [holding])))
                local.send(.have(Have(holdings: [holding])))
                let both = try await holders(x, Self.digest(5), count: 2)
                #expect(Set(both) == [idy, idLocal])
                #expect(both.first == idLocal, "holders here rank before holders elsewhere")
                let stats = serverA.server.orchestrator.statistics()
                #expect(stats.cluster?.instances == 2)
                #expect(stats.cluster?.remotePartners == 1)
                #expect((stats.cluster?.messagesSent ?? 0) >= 8)
            }
        }

        @Test(arguments: kinds) func partnersAreToldWhenAnInstanceGoes(_ kind: ClusterStoreTests.Kind) async throws {
            try await withCluster(kind) { serverA, serverB in
                let x = TestPeer(serverA.signalURL)
                let y = TestPeer(serverB.signalURL)
                _ = try await x.join()
                let idy = try await y.join().peer
                let holding = Holding(digest: Self.digest(6), url: "https://example.org/6", size: 6)
                y.send(.have(Have(holdings: [holding])))
                _ = try await pairAcross(x, y)
                #expect(try await holders(x, Self.digest(6), count: 1) == [idy])
                await serverB.stop()
                // y's partner hears it left, and y is no longer a holder anywhere.
                #expect(try await x.expect(timeout: .seconds(5)) { if case .peerLeft(let p) = $0 { p } else { nil } } == PeerLeft(peer: idy))
                #expect(try await holders(x, Self.digest(6), count: 0).isEmpty)
                #expect(serverA.server.orchestrator.statistics().cluster?.instances == 1)
            }
        }

        @Test(arguments: kinds) func aSessionResumesOnTheOtherInstance(_ kind: ClusterStoreTests.Kind) async throws {
            try await withCluster(kind) { serverA, serverB in
                let y = TestPeer(serverB.signalURL)
                let welcome = try await y.join()
                let holding = Holding(digest: Self.digest(7), url: "https://example.org/7", size: 7)
                y.send(.have(Have(holdings: [holding])))
                let x = TestPeer(serverA.signalURL)
                _ = try await x.join()
                #expect(try await holders(x, Self.digest(7), count: 1) == [welcome.peer])
                // y's connection to B goes; it comes back through A with its token.
                y.close()
                _ = try await y.closed()
                let again = TestPeer(serverA.signalURL)
                let resumed = try await again.join(resumeToken: welcome.resumeToken)
                #expect(resumed.peer == welcome.peer && resumed.resumed)
                // Its holdings came with it: it is a holder on A now.
                let probe = TestPeer(serverB.signalURL)
                _ = try await probe.join()
                #expect(try await holders(probe, Self.digest(7), count: 1) == [welcome.peer])
                #expect(serverA.server.orchestrator.peerCount == 2)
            }
        }
    }
}

/// The in-memory store, with who-has lookups that take `delay`: a store under load.
final class SlowHoldersStore: ClusterStore {
    let base = MemoryClusterStore()
    let delay: Duration
    init(delay: Duration) { self.delay = delay }

    func prepare() async throws { try await base.prepare() }
    func heartbeat(_ instance: InstanceID) async throws -> Bool { try await base.heartbeat(instance) }
    func expireInstances(silentFor expiry: Duration) async throws -> Set<InstanceID> { try await base.expireInstances(silentFor: expiry) }
    func retire(_ instance: InstanceID) async throws { try await base.retire(instance) }
    func apply(_ changes: DirectoryChanges, from instance: InstanceID) async throws { try await base.apply(changes, from: instance) }
    func openPeers(swarm: String, near address: String?, excluding: InstanceID, skipping: Set<PeerID>, limit: Int) async throws -> [PeerRecord] {
        try await base.openPeers(swarm: swarm, near: address, excluding: excluding, skipping: skipping, limit: limit)
    }
    func holders(swarm: String, digest: ResourceDigest?, url: String?, excluding: InstanceID, limit: Int) async throws -> (
        digest: ResourceDigest?, peers: [PeerRecord]
    ) {
        try await Task.sleep(for: delay)
        return try await base.holders(swarm: swarm, digest: digest, url: url, excluding: excluding, limit: limit)
    }
    func session(resumeToken: String, swarm: String, excluding: InstanceID) async throws -> StoredSession? {
        try await base.session(resumeToken: resumeToken, swarm: swarm, excluding: excluding)
    }
    func registeredDigest(for url: String) async throws -> RegisteredDigest? { try await base.registeredDigest(for: url) }
    func register(_ digest: RegisteredDigest, for url: String) async throws { try await base.register(digest, for: url) }
    func send(_ messages: [(to: InstanceID, message: ClusterMessage)], from sender: InstanceID) async throws {
        try await base.send(messages, from: sender)
    }
    func receive(as instance: InstanceID, onReady: @Sendable () async -> Void, _ handle: @Sendable (ClusterEnvelope) async -> Void) async throws {
        try await base.receive(as: instance, onReady: onReady, handle)
    }
}

extension LiveClusterSuites.LiveClusterTests {
    /// A flood of who-has cannot become a flood of store queries: beyond the bound,
    /// answers come from this instance alone, at once.
    @Test func storeLookupsAreBoundedAndTheRestAnsweredLocally() async throws {
        let store = SlowHoldersStore(delay: .seconds(3))
        let server = try await LiveServer.startBehindProxy(cluster: store)
        defer { Task { await server.stop() } }
        let asker = TestPeer(server.signalURL)
        _ = try await asker.join()
        let count = 100
        let start = ContinuousClock.now
        for n in 0..<count { asker.send(.whoHas(WhoHas(requestID: UInt32(n), digest: Self.digest(9), limit: 4))) }
        var quick = 0
        for _ in 0..<(count - 64) {
            if case .holders = try await asker.next(timeout: .seconds(2)) { quick += 1 }
        }
        #expect(quick == count - 64)
        #expect(ContinuousClock.now - start < .seconds(2), "the shed ones did not wait for the store")
        #expect(server.server.orchestrator.statistics().cluster?.lookupsShed == count - 64)
        // The 64 slow ones still answer, once the store does.
        var slow = 0
        for _ in 0..<64 {
            if case .holders = try await asker.next(timeout: .seconds(10)) { slow += 1 }
        }
        #expect(slow == 64)
    }
}
