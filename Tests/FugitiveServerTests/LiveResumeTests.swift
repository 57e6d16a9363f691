import FugitiveServer
import FugitiveServerTesting
import FugitiveWire
import Testing

extension LiveServerTests {
    /// A session kept for its resume keeps its links too: partners hear `peer-left` only
    /// when it really ends.
    @Suite("Live server: resumed sessions keep their links")
    struct LiveResumeTests {
        @Test func aBriefDisconnectKeepsTheLinksAndTheEndOfTheSessionEndsThem() async throws {
            // Long enough that a loaded runner reconnects within it (1.5 s expired once in a
            // clean-clone CI run before the new connection's hello was read).
            try await LiveServer.with({ $0.orchestrator.resumeGrace = .seconds(5) }) { server in
                let a = TestPeer(server.signalURL)
                let b = TestPeer(server.signalURL)
                let welcome = try await a.join()
                let ida = welcome.peer
                let idb = try await b.join().peer
                a.send(.want(Want(count: 1)))
                #expect(try await a.next() == .pair(Pair(peer: idb, offerer: true)))
                _ = try await b.next()
                a.send(.link(LinkReport(peer: idb, state: .connected)))
                b.send(.link(LinkReport(peer: ida, state: .connected)))
                b.send(.ping(Heartbeat(nonce: 1)))
                #expect(try await b.next() == .pong(Heartbeat(nonce: 1)))

                // A's WebSocket drops; its WebRTC link to B is fine.
                a.close()
                _ = try await a.closed()
                #expect(await b.isSilent(for: .milliseconds(500)), "B was told A left while A's session waits for its resume")
                let again = TestPeer(server.signalURL)
                let resumed = try await again.join(resumeToken: welcome.resumeToken)
                #expect(resumed.peer == ida && resumed.resumed)
                // The link is still a link: reports and signals pass, no 2001.
                again.send(.link(LinkReport(peer: idb, state: .connected, rttMillis: 4)))
                again.send(.signal(Signal(peer: idb, kind: .offer, sdp: "v=0 renegotiate")))
                #expect(try await b.next() == .signal(Signal(peer: ida, kind: .offer, sdp: "v=0 renegotiate")))
                #expect(await again.isSilent())

                // Gone for good: B hears it once the grace is over.
                again.close()
                #expect(await b.isSilent(for: .milliseconds(500)))
                #expect(try await b.next(timeout: .seconds(15)) == .peerLeft(PeerLeft(peer: ida)))
                b.send(.signal(Signal(peer: ida, kind: .offer, sdp: "v=0")))
                let refused: WireErrorCode = try await b.expect { if case .error(let error) = $0 { error.code } else { nil } }
                #expect(refused == .notPaired)
            }
        }
    }
}
