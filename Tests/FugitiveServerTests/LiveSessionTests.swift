import FugitiveServer
import FugitiveServerTesting
import FugitiveWire
import Testing
extension LiveServerTests {
    /// The orchestrator end to end: a live server on a free port, real WebSocket peers.
    @Suite("Live server: sessions, pairing, relay")
    struct LiveSessionTests {
        static func digest(_ n: UInt8) -> ResourceDigest { ResourceDigest(bytes: [UInt8](repeating: n, count: 32))! }

        @Test func helloGetsAServerAssignedIdentityAndConfiguration() async throws {
            try await LiveServer.with({
                $0.orchestrator.iceServers = [ICEServer(urls: ["stun:stun.example.org:3478"])]
                $0.orchestrator.heartbeatInterval = .seconds(7)
            }) { server in
                let a = TestPeer(server.signalURL)
                let b = TestPeer(server.signalURL)
                let wa = try await a.join()
                let wb = try await b.join()
                #expect(wa.peer != wb.peer)
                #expect(!wa.peer.rawValue.isEmpty && wa.resumeToken.count >= 25 && wa.resumeToken != wb.resumeToken)
                #expect(wa.iceServers == [ICEServer(urls: ["stun:stun.example.org:3478"])])
                #expect(wa.heartbeatMillis == 7000)
                #expect(!wa.resumed)
                // The server answers heartbeats.
                a.send(.ping(Heartbeat(nonce: 42)))
                #expect(try await a.next() == .pong(Heartbeat(nonce: 42)))
            }
        }

        @Test func theFirstMessageMustBeHello() async throws {
            try await LiveServer.with { server in
                let a = TestPeer(server.signalURL)
                a.send(.want(Want(count: 1)))
                let error = try await a.expect { if case .error(let e) = $0 { e } else { nil } }
                #expect(error.code == .unexpectedMessage)
                let close = try await a.closed()
                #expect(close?.closeCode == .policyViolation)
            }
        }

        @Test func pairingStaysInsideTheSwarm() async throws {
            try await LiveServer.with { server in
                let a = TestPeer(server.signalURL)
                let b = TestPeer(server.signalURL)
                let c = TestPeer(server.signalURL)
                let ida = try await a.join(swarm: "one").peer
                let idb = try await b.join(swarm: "one").peer
                _ = try await c.join(swarm: "two")
                a.send(.want(Want(count: 3)))
                #expect(try await a.next() == .pair(Pair(peer: idb, offerer: true)))
                #expect(try await b.next() == .pair(Pair(peer: ida, offerer: false)))
                #expect(await a.isSilent())
                #expect(await c.isSilent())
            }
        }

        @Test func scoringPrefersMeasuredRTTThenPrefixThenAnyone() async throws {
            try await LiveServer.with { server in
                let a = TestPeer(server.signalURL, address: "10.1.1.5")
                let ida = try await a.join().peer
                let d = TestPeer(server.signalURL, address: "172.16.0.1")
                let idd = try await d.join().peer
                // A measures D: pair, link with an RTT, then the link goes down.
                a.send(.want(Want(count: 1)))
                #expect(try await a.next() == .pair(Pair(peer: idd, offerer: true)))
                _ = try await d.next()
                d.send(.link(LinkReport(peer: ida, state: .connected)))
                d.send(.ping(Heartbeat(nonce: 9)))
                _ = try await d.expect { $0 == .pong(Heartbeat(nonce: 9)) ? true : nil }
                a.send(.link(LinkReport(peer: idd, state: .connected, rttMillis: 12)))
                a.send(.link(LinkReport(peer: idd, state: .disconnected)))
                // The pair is over, and both sides hear it (D would otherwise learn it from a 2001).
                #expect(try await a.next() == .unpair(Unpair(peer: idd, reason: .linkEnded)))
                #expect(try await d.next() == .unpair(Unpair(peer: ida, reason: .linkEnded)))
                let c = TestPeer(server.signalURL, address: "192.0.2.1")
                let idc = try await c.join().peer
                let b = TestPeer(server.signalURL, address: "10.1.1.9")
                let idb = try await b.join().peer
                // RTT beats prefix.
                a.send(.want(Want(count: 1)))
                #expect(try await a.next() == .pair(Pair(peer: idd, offerer: true)))
                // Prefix beats nothing.
                a.send(.want(Want(count: 1)))
                #expect(try await a.next() == .pair(Pair(peer: idb, offerer: true)))
                a.send(.want(Want(count: 1)))
                #expect(try await a.next() == .pair(Pair(peer: idc, offerer: true)))
                // Everyone is a partner now: nothing more to give.
                a.send(.want(Want(count: 1)))
                #expect(await a.isSilent())
            }
        }

        @Test func capacityIsRespectedOnBothSides() async throws {
            try await LiveServer.with { server in
                let full = TestPeer(server.signalURL)
                let idFull = try await full.join(target: 1, max: 1).peer
                let x = TestPeer(server.signalURL)
                let idx = try await x.join().peer
                x.send(.want(Want(count: 1)))
                #expect(try await x.next() == .pair(Pair(peer: idFull, offerer: true)))
                #expect(try await full.next() == .pair(Pair(peer: idx, offerer: false)))
                let a = TestPeer(server.signalURL)
                _ = try await a.join(target: 1, max: 1)
                // `full` is at its maximum and is never picked; `a` may take one partner only.
                a.send(.want(Want(count: 5)))
                #expect(try await a.next() == .pair(Pair(peer: idx, offerer: true)))
                #expect(await a.isSilent())
                // Nothing more for `full`: it was not paired beyond its maximum.
                #expect(await full.isSilent())
            }
        }

        @Test func signalsAreRelayedBetweenPartnersOnly() async throws {
            try await LiveServer.with { server in
                let a = TestPeer(server.signalURL)
                let b = TestPeer(server.signalURL)
                let c = TestPeer(server.signalURL)
                let ida = try await a.join().peer
                let idb = try await b.join().peer
                let idc = try await c.join(target: 0, max: 0).peer
                a.send(.want(Want(count: 1)))
                _ = try await a.next()
                _ = try await b.next()
                a.send(.signal(Signal(peer: idb, kind: .offer, sdp: "v=0 offer")))
                #expect(try await b.next() == .signal(Signal(peer: ida, kind: .offer, sdp: "v=0 offer")))
                b.send(.signal(Signal(peer: ida, kind: .candidate, candidate: "candidate:1 1 udp 1 127.0.0.1 9 typ host", mid: "0")))
                #expect(
                    try await a.next()
                        == .signal(Signal(peer: idb, kind: .candidate, candidate: "candidate:1 1 udp 1 127.0.0.1 9 typ host", mid: "0")))
                // A spoofed target and a stranger are refused; nobody else hears anything.
                a.send(.signal(Signal(peer: idc, kind: .offer, sdp: "spoof")))
                let refused = try await a.expect { if case .error(let e) = $0 { e } else { nil } }
                #expect(refused.code == .notPaired)
                c.send(.signal(Signal(peer: idb, kind: .offer, sdp: "stranger")))
                #expect(try await c.expect { if case .error(let e) = $0 { e.code } else { nil } } == WireErrorCode.notPaired)
                #expect(await b.isSilent())
                #expect(await c.isSilent())
            }
        }

        @Test func aPairThatNeverConnectsTimesOut() async throws {
            // The same two are paired again at once (not after `unreachableRetry`) to show that
            // a pair confirmed in time stays.
            try await LiveServer.with({
                $0.orchestrator.pairTimeout = .seconds(1)
                $0.orchestrator.unreachableRetry = .zero
            }) { server in
                let a = TestPeer(server.signalURL)
                let b = TestPeer(server.signalURL)
                let ida = try await a.join().peer
                let idb = try await b.join().peer
                a.send(.want(Want(count: 1)))
                _ = try await a.next()
                _ = try await b.next()
                #expect(try await a.next(timeout: .seconds(4)) == .unpair(Unpair(peer: idb, reason: .pairTimeout)))
                #expect(try await b.next(timeout: .seconds(4)) == .unpair(Unpair(peer: ida, reason: .pairTimeout)))
                // A pair that connects in time stays.
                a.send(.want(Want(count: 1)))
                _ = try await a.next()
                _ = try await b.next()
                a.send(.link(LinkReport(peer: idb, state: .connected, rttMillis: 3)))
                b.send(.link(LinkReport(peer: ida, state: .connected)))  // a link needs both sides' word
                #expect(await a.isSilent(for: .seconds(2)))
            }
        }

        @Test func aSilentPeerIsDroppedAfterTheHeartbeatTimeout() async throws {
            try await LiveServer.with({
                $0.orchestrator.heartbeatInterval = .milliseconds(500); $0.orchestrator.heartbeatTimeout = .milliseconds(2500)
            }) { server in
                let silent = TestPeer(server.signalURL)
                let alive = TestPeer(server.signalURL)
                let idSilent = try await silent.join().peer
                _ = try await alive.join()
                alive.send(.want(Want(count: 1)))
                _ = try await alive.next()
                for nonce in 0..<20 {
                    alive.send(.ping(Heartbeat(nonce: UInt64(nonce))))
                    try await Task.sleep(for: .milliseconds(250))
                }
                let error = try await silent.expect { if case .error(let e) = $0 { e } else { nil } }
                #expect(error.code == .heartbeatTimeout)
                _ = try await silent.closed()
                // The live partner was told, and is still served.
                _ = try await alive.expect { if case .peerLeft(let left) = $0, left.peer == idSilent { true } else { nil } }
                alive.send(.ping(Heartbeat(nonce: 99)))
                _ = try await alive.expect { $0 == .pong(Heartbeat(nonce: 99)) ? true : nil }
            }
        }

        @Test func aResumeTokenKeepsTheIdAndHoldings() async throws {
            try await LiveServer.with { server in
                let a = TestPeer(server.signalURL)
                let welcome = try await a.join()
                let holding = Holding(digest: Self.digest(7), url: "https://example.org/a.png", size: 10)
                a.send(.have(Have(holdings: [holding])))
                a.send(.ping(Heartbeat(nonce: 1)))
                _ = try await a.next()  // the pong: the have was processed
                a.close()
                _ = try await a.closed()
                let again = TestPeer(server.signalURL)
                let resumed = try await again.join(resumeToken: welcome.resumeToken)
                #expect(resumed.peer == welcome.peer && resumed.resumed)
                let b = TestPeer(server.signalURL)
                _ = try await b.join()
                b.send(.whoHas(WhoHas(requestID: 5, digest: Self.digest(7), limit: 4)))
                #expect(try await b.next() == .holders(Holders(requestID: 5, digest: Self.digest(7), peers: [welcome.peer])))
                // A made-up token gets a fresh identity.
                let stranger = TestPeer(server.signalURL)
                let fresh = try await stranger.join(resumeToken: "not-a-token")
                #expect(fresh.peer != welcome.peer && !fresh.resumed)
            }
        }

        @Test func closingAConnectionTellsPartnersAndDropsHoldings() async throws {
            try await LiveServer.with({ $0.orchestrator.resumeGrace = .milliseconds(200) }) { server in
                let a = TestPeer(server.signalURL)
                let b = TestPeer(server.signalURL)
                let ida = try await a.join().peer
                let idb = try await b.join().peer
                a.send(.have(Have(holdings: [Holding(digest: Self.digest(1), url: "https://example.org/x", size: 1)])))
                a.send(.want(Want(count: 1)))
                _ = try await a.next()
                _ = try await b.next()
                a.send(.link(LinkReport(peer: idb, state: .connected)))
                a.close()
                #expect(try await b.next() == .peerLeft(PeerLeft(peer: ida)))
                b.send(.whoHas(WhoHas(requestID: 1, url: "https://example.org/x", limit: 3)))
                #expect(try await b.next() == .holders(Holders(requestID: 1, digest: nil, peers: [])))
            }
        }

        @Test func whoHasAnswersWithinTheSwarm() async throws {
            try await LiveServer.with { server in
                let a = TestPeer(server.signalURL)
                let b = TestPeer(server.signalURL)
                let c = TestPeer(server.signalURL)
                let ida = try await a.join(swarm: "site").peer
                _ = try await b.join(swarm: "site")
                _ = try await c.join(swarm: "elsewhere")
                a.send(.have(Have(holdings: [Holding(digest: Self.digest(3), url: "https://example.org/3", size: 3)])))
                a.send(.ping(Heartbeat(nonce: 0)))
                _ = try await a.next()
                b.send(.whoHas(WhoHas(requestID: 9, digest: Self.digest(3), limit: 2)))
                #expect(try await b.next() == .holders(Holders(requestID: 9, digest: Self.digest(3), peers: [ida])))
                b.send(.whoHas(WhoHas(requestID: 10, url: "https://example.org/3", limit: 2)))
                #expect(try await b.next() == .holders(Holders(requestID: 10, digest: Self.digest(3), peers: [ida])))
                c.send(.whoHas(WhoHas(requestID: 11, digest: Self.digest(3), limit: 2)))
                #expect(try await c.next() == .holders(Holders(requestID: 11, digest: Self.digest(3), peers: [])))
                a.send(.drop(Drop(digests: [Self.digest(3)])))
                a.send(.ping(Heartbeat(nonce: 1)))
                _ = try await a.next()
                b.send(.whoHas(WhoHas(requestID: 12, digest: Self.digest(3), limit: 2)))
                #expect(try await b.next() == .holders(Holders(requestID: 12, digest: Self.digest(3), peers: [])))
            }
        }

        @Test func gracefulShutdownTellsEveryPeer() async throws {
            let server = try await LiveServer.startBehindProxy()
            let a = TestPeer(server.signalURL)
            _ = try await a.join()
            await server.stop()
            let error = try await a.expect { if case .error(let e) = $0 { e } else { nil } }
            #expect(error.code == .shuttingDown)
            #expect(try await a.closed()?.closeCode == .goingAway)
        }
    }
}
