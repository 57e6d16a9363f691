import FugitiveServer
import FugitiveServerTesting
import FugitiveTestSupport
import FugitiveWire
import NIOWebSocket
import Testing
extension LiveServerTests {
    /// Every limit and every kind of bad input: an error with a code, a close, and the
    /// server goes on serving everyone else.
    @Suite("Live server: limits and bad input")
    struct LiveLimitsTests {
        static func firstError(_ peer: TestPeer) async throws -> WireErrorCode {
            try await peer.expect { if case .error(let e) = $0 { e.code } else { nil } }
        }

        @Test func oversizedFramesAreRefused() async throws {
            try await LiveServer.with({ $0.relay.maxFrameSize = 4096 }) { server in
                // Over the protocol limit: the protocol's own error.
                let a = TestPeer(server.signalURL)
                _ = try await a.join()
                a.sendRaw([UInt8](repeating: 0xc0, count: 6000))
                #expect(try await Self.firstError(a) == .frameTooLarge)
                #expect(try await a.closed()?.closeCode == .policyViolation)
                // Far over it: the WebSocket layer cuts the connection (1009).
                let b = TestPeer(server.signalURL)
                _ = try await b.join()
                b.sendRaw([UInt8](repeating: 0xc0, count: 20_000))
                // Closed (a timeout throws), and not as if all were well.
                let close = try await b.closed()
                #expect(close?.closeCode == .messageTooLarge, "closed with \(String(describing: close))")
                try await Self.stillServes(server)
            }
        }

        @Test func aPeerThatStopsReadingIsClosedInsteadOfBuffered() async throws {
            try await LiveServer.with({
                $0.relay.messagesPerSecond = 100_000
                $0.relay.messageBurst = 100_000
                $0.relay.outboundQueueLimit = 16
            }) { server in
                let a = TestPeer(server.signalURL)
                let b = TestPeer(server.signalURL)
                _ = try await a.join()
                let bID = try await b.join().peer
                a.send(.want(Want(count: 1)))
                _ = try await a.expect { if case .pair(let p) = $0, p.peer == bID { p } else { nil } }
                b.pauseReading()
                // ~18 MB for b (strings stay under the protocol's 16 KiB): more than the
                // loopback socket buffers hold (~10 MB here), so the server's socket to b
                // stays unwritable and b's queue fills up. Slow on a loaded machine (debug
                // build, every frame masked and decoded): hence the long wait.
                let sdp = String(repeating: "a=x-filler:0123456789abcdef\r\n", count: 12_000 / 28)
                for _ in 0..<1_500 { a.send(.signal(Signal(peer: bID, kind: .offer, sdp: sdp))) }
                // The server gives up on b: its queue overflowed (counted once per queue;
                // a may overflow too, with not-paired answers, on a loaded machine).
                let rateLimited = "\(WireErrorCode.rateLimited.rawValue)"
                let deadline = ContinuousClock.now + .seconds(90)
                while (server.server.orchestrator.statistics().counts.errors[rateLimited] ?? 0) == 0 {
                    guard ContinuousClock.now < deadline else { throw TestFailure("no queue overflowed") }
                    try await Task.sleep(for: .milliseconds(50))
                }
                // b, reading again, reaches the end of its connection after the backlog
                // (the error and close frames were queued behind it and are dropped with
                // the connection, so only the end itself can be seen).
                b.resumeReading()
                let ended: Bool
                do {
                    _ = try await b.closed(timeout: .seconds(90))
                    ended = true
                } catch is TestFailure {
                    ended = false
                } catch {
                    ended = true  // a connection error is an end too
                }
                #expect(ended)
                // And the server has let go of b's session (on a loaded machine the
                // overflow counted above may have been a's, and b's comes later).
                let gone = ContinuousClock.now + .seconds(60)
                while server.server.orchestrator.statistics().peers > 1 && ContinuousClock.now < gone {
                    try await Task.sleep(for: .milliseconds(20))
                }
                #expect(server.server.orchestrator.statistics().peers <= 1)
                try await Self.stillServes(server)
            }
        }

        @Test func floodingIsRateLimited() async throws {
            try await LiveServer.with({
                $0.relay.messagesPerSecond = 2; $0.relay.messageBurst = 10
            }) { server in
                let a = TestPeer(server.signalURL)
                _ = try await a.join()
                for nonce in 0..<30 { a.send(.ping(Heartbeat(nonce: UInt64(nonce)))) }
                #expect(try await Self.firstError(a) == .rateLimited)
                #expect(try await a.closed()?.closeCode == .policyViolation)
                try await Self.stillServes(server)
            }
        }

        @Test func connectionsPerIPAreCapped() async throws {
            try await LiveServer.with({ $0.orchestrator.connectionsPerIP = 2 }) { server in
                let a = TestPeer(server.signalURL, address: "198.51.100.1")
                let b = TestPeer(server.signalURL, address: "198.51.100.1")
                _ = try await a.join()
                _ = try await b.join()
                let c = TestPeer(server.signalURL, address: "198.51.100.1")
                #expect(try await Self.firstError(c) == .tooManyConnections)
                _ = try await c.closed()
                // Another address is not affected, and a freed slot can be used again.
                let d = TestPeer(server.signalURL, address: "198.51.100.2")
                _ = try await d.join()
                a.close()
                _ = try await a.closed()
                // The server notices the close in its own time; the slot is free once `a` left.
                let deadline = ContinuousClock.now + .seconds(30)
                while server.server.orchestrator.statistics().peers > 2, ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(20))
                }
                let e = TestPeer(server.signalURL, address: "198.51.100.1")
                _ = try await e.join()
            }
        }

        @Test func swarmsHaveAMaximumSize() async throws {
            try await LiveServer.with({ $0.orchestrator.peersPerSwarm = 2 }) { server in
                _ = try await TestPeer(server.signalURL).join(swarm: "small")
                _ = try await TestPeer(server.signalURL).join(swarm: "small")
                let third = TestPeer(server.signalURL)
                third.send(.hello(Hello(swarm: "small", targetPeers: 1, maxPeers: 1)))
                #expect(try await Self.firstError(third) == .swarmFull)
                _ = try await third.closed()
                _ = try await TestPeer(server.signalURL).join(swarm: "other")
            }
        }

        @Test func announcementsPerPeerAreBounded() async throws {
            try await LiveServer.with({ $0.orchestrator.holdingsPerPeer = 3 }) { server in
                let a = TestPeer(server.signalURL)
                _ = try await a.join()
                let holdings = (1...5).map {
                    Holding(digest: ResourceDigest(bytes: [UInt8](repeating: UInt8($0), count: 32))!, url: "https://e.org/\($0)", size: 1)
                }
                a.send(.have(Have(holdings: holdings)))
                #expect(try await Self.firstError(a) == .tooManyAnnouncements)
                let stats = server.server.orchestrator.statistics()
                #expect(stats.holdings == 3)
                // Not a violation: the connection stays.
                a.send(.ping(Heartbeat(nonce: 3)))
                #expect(try await a.next() == .pong(Heartbeat(nonce: 3)))
            }
        }

        @Test func aConnectionThatNeverSaysHelloIsClosed() async throws {
            try await LiveServer.with({ $0.orchestrator.helloTimeout = .milliseconds(500) }) { server in
                let a = TestPeer(server.signalURL)
                #expect(try await Self.firstError(a) == .unexpectedMessage)
                _ = try await a.closed()
            }
        }

        @Test(
            arguments: [
                ("garbage", [0xc1, 0x00, 0x13], WireErrorCode.malformedFrame),
                ("wrong version", [0x93, 0x07, 0x0f, 0x80], .unsupportedVersion),
                ("unknown type", [0x93, 0x01, 0x63, 0x80], .unknownMessageType),
                ("welcome without fields", [0x93, 0x01, 0x02, 0x80], .invalidField),
            ] as [(String, [UInt8], WireErrorCode)])
        func malformedInputGetsItsCode(_ name: String, _ bytes: [UInt8], _ code: WireErrorCode) async throws {
            try await LiveServer.with { server in
                let a = TestPeer(server.signalURL)
                _ = try await a.join()
                a.sendRaw(bytes)
                #expect(try await Self.firstError(a) == code, "\(name)")
                #expect(try await a.closed()?.closeCode == .policyViolation)
            }
        }

        @Test func serverOnlyMessagesFromAPeerAreRefused() async throws {
            try await LiveServer.with { server in
                let a = TestPeer(server.signalURL)
                let welcome = try await a.join()
                a.send(.welcome(welcome))
                #expect(try await Self.firstError(a) == .unexpectedMessage)
                _ = try await a.closed()
            }
        }

        @Test func textFramesAreRefused() async throws {
            try await LiveServer.with { server in
                let a = TestPeer(server.signalURL)
                a.sendText("{\"type\":\"hello\"}")
                #expect(try await Self.firstError(a) == .malformedFrame)
                _ = try await a.closed()
            }
        }

        /// ≥ 10 000 random and truncated frames over many connections, then a well-behaved
        /// pair is still paired, relayed and answered.
        @Test func hostileInputDoesNotStopTheServer() async throws {
            try await LiveServer.with({
                $0.orchestrator.connectionsPerIP = 10_000; $0.relay.messageBurst = 100_000; $0.relay.messagesPerSecond = 100_000
            }) { server in
                var generator = SystemRandomNumberGenerator()
                let codec = WireCodec(limits: .serverLink)
                let messages: [ServerMessage] = [
                    .hello(Hello(swarm: "s", targetPeers: 1, maxPeers: 2)),
                    .want(Want(count: 2, digests: [ResourceDigest(bytes: [UInt8](repeating: 1, count: 32))!])),
                    .signal(Signal(peer: "someone", kind: .offer, sdp: String(repeating: "a", count: 300))),
                    .have(
                        Have(holdings: [Holding(digest: ResourceDigest(bytes: [UInt8](repeating: 2, count: 32))!, url: "https://x.org/y", size: 9)])),
                ]
                let valid = messages.map { Array(codec.encode($0).readableBytesView) }
                var frames: [[UInt8]] = []
                for i in 0..<10_000 {
                    switch i % 4 {
                    case 0: frames.append((0..<Int.random(in: 0...64, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) })
                    case 1:
                        let message = valid[i % valid.count]
                        frames.append(Array(message.prefix(Int.random(in: 0..<message.count, using: &generator))))
                    case 2:
                        var message = valid[i % valid.count]
                        message[Int.random(in: 0..<message.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
                        frames.append(message)
                    default:
                        frames.append(
                            [0x93, 0x01, UInt8.random(in: 0...40, using: &generator)]
                                + (0..<8).map { _ in UInt8.random(in: 0...255, using: &generator) })
                    }
                }
                // A connection says hello (or not) and then sends its share of hostile frames.
                let perConnection = 20
                let batches = stride(from: 0, to: frames.count, by: perConnection).map { Array(frames[$0..<min($0 + perConnection, frames.count)]) }
                for wave in stride(from: 0, to: batches.count, by: 50) {
                    await withTaskGroup(of: Void.self) { group in
                        for batch in batches[wave..<min(wave + 50, batches.count)] {
                            group.addTask {
                                let peer = TestPeer(server.signalURL)
                                if Bool.random() { _ = try? await peer.join() }
                                for frame in batch { peer.sendRaw(frame) }
                                peer.close()
                                _ = try? await peer.closed(timeout: .seconds(20))
                            }
                        }
                    }
                }
                let stats = server.server.orchestrator.statistics()
                #expect(stats.counts.errors.values.reduce(0, +) >= batches.count / 4)
                try await Self.stillServes(server)
            }
        }

        /// Two new peers pair, relay a signal and get a who-has answer.
        static func stillServes(_ server: LiveServer) async throws {
            let a = TestPeer(server.signalURL)
            let b = TestPeer(server.signalURL)
            let ida = try await a.join(swarm: "healthy").peer
            let idb = try await b.join(swarm: "healthy").peer
            a.send(.want(Want(count: 1)))
            #expect(try await a.expect { if case .pair(let p) = $0 { p } else { nil } } == Pair(peer: idb, offerer: true))
            _ = try await b.expect { if case .pair(let p) = $0 { p } else { nil } }
            a.send(.signal(Signal(peer: idb, kind: .offer, sdp: "v=0")))
            #expect(try await b.expect { if case .signal(let s) = $0 { s } else { nil } } == Signal(peer: ida, kind: .offer, sdp: "v=0"))
            b.send(.whoHas(WhoHas(requestID: 1, url: "https://none.example/", limit: 1)))
            _ = try await b.expect { if case .holders(let h) = $0 { h } else { nil } }
            a.close()
            b.close()
        }
    }
}
