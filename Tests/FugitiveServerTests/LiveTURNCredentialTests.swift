import Foundation
import FugitiveServer
import FugitiveServerTesting
import FugitiveWire
import Testing

extension LiveServerTests {
    /// TURN credentials minted per peer from the secret shared with the TURN server (the
    /// TURN REST API scheme), handed out in `welcome` and renewed before they expire.
    @Suite("Live server: minted TURN credentials")
    struct LiveTURNCredentialTests {
        static let secret = "shared-with-coturn"
        static let stun = ICEServer(urls: ["stun:turn.example.org:3478"])

        /// The credential as coturn checks it: base64(HMAC-SHA1(secret, username)), and the
        /// username `EXPIRY:PEER` with EXPIRY about `lifetime` from now.
        static func check(_ server: ICEServer?, peer: PeerID, lifetime: Int) {
            guard let server, let username = server.username, let colon = username.firstIndex(of: ":") else {
                Issue.record("no minted credential: \(String(describing: server))")
                return
            }
            #expect(server.urls == ["turn:turn.example.org:3478", "turns:turn.example.org:5349"])
            #expect(username[username.index(after: colon)...] == peer.rawValue[...])
            let expiry = Int(username[..<colon]) ?? 0
            let now = Int(Date().timeIntervalSince1970)
            #expect((now + lifetime - 5...now + lifetime + 1).contains(expiry), "expiry \(expiry), now \(now)")
            #expect(server.credential == TURNCredentials.credential(for: username, secret: secret))
        }

        @Test func eachPeerGetsItsOwnCredentialAndFreshOnesBeforeItExpires() async throws {
            try await LiveServer.with({
                $0.orchestrator.iceServers = [Self.stun]
                $0.orchestrator.turn = TURNCredentials(
                    secret: Self.secret, urls: ["turn:turn.example.org:3478", "turns:turn.example.org:5349"], lifetime: .seconds(3))
            }) { server in
                let a = TestPeer(server.signalURL)
                let b = TestPeer(server.signalURL)
                let wa = try await a.join()
                let wb = try await b.join()
                #expect(wa.iceServers.first == Self.stun && wb.iceServers.first == Self.stun)
                Self.check(wa.iceServers.last, peer: wa.peer, lifetime: 3)
                Self.check(wb.iceServers.last, peer: wb.peer, lifetime: 3)
                #expect(wa.iceServers.last?.credential != wb.iceServers.last?.credential)
                // Half the lifetime later (and not before), the whole list again with a fresh credential.
                #expect(await a.isSilent(for: .milliseconds(1000)))
                let renewed = try await a.expect(timeout: .seconds(3)) { if case .iceServers(let update) = $0 { update } else { nil } }
                #expect(renewed.iceServers.first == Self.stun)
                Self.check(renewed.iceServers.last, peer: wa.peer, lifetime: 3)
                #expect(renewed.iceServers.last?.username != wa.iceServers.last?.username)
            }
        }

        @Test func withoutASecretNothingIsMinted() async throws {
            try await LiveServer.with({ $0.orchestrator.iceServers = [Self.stun] }) { server in
                let a = TestPeer(server.signalURL)
                let welcome = try await a.join()
                #expect(welcome.iceServers == [Self.stun])
            }
        }

        @Test func aConfigurationThatCannotMintIsRefused() throws {
            func problem(_ json: String) -> String? {
                do {
                    try JSONDecoder().decode(ServerConfiguration.self, from: Data(json.utf8)).validate()
                    return nil
                } catch {
                    return "\(error)"
                }
            }
            #expect(problem(#"{"turnSecret": "s", "turnURLs": ["turn:t.example:3478"], "turnCredentialLifetime": 3600}"#) == nil)
            #expect(problem(#"{"turnURLs": ["turn:t.example:3478"]}"#)?.contains("turnSecret") == true)
            #expect(problem(#"{"turnSecret": "s"}"#)?.contains("turnURLs") == true)
            #expect(problem(#"{"turnSecret": "s", "turnURLs": ["stun:t.example:3478"]}"#)?.contains("not a turn") == true)
            #expect(problem(#"{"turnSecret": "s", "turnURLs": ["turn:t"], "turnCredentialLifetime": 1}"#)?.contains("at least 2") == true)
        }
    }
}
