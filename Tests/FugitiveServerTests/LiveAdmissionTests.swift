import Foundation
import FugitiveServer
import FugitiveServerTesting
import FugitiveWire
import Testing

extension LiveServerTests {
    /// Swarm admission: by the page's origin and by join tokens from the site's backend.
    @Suite("Live server: admission")
    struct LiveAdmissionTests {
        static let key = "a-shared-key-of-at-least-32-bytes!"

        static func refusal(_ peer: TestPeer, _ hello: Hello) async throws -> WireError? {
            peer.send(.hello(hello))
            return try await peer.expect { message -> WireError?? in
                switch message {
                case .welcome: .some(nil)
                case .error(let e): .some(WireError(e.code, e.message))
                default: nil
                }
            }
        }

        @Test func tokensAreCheckedForSignatureExpiryAndSwarm() async throws {
            try await LiveServer.with({
                $0.relay.admission = AdmissionConfiguration(swarms: ["shop": SwarmAdmission(tokenKey: Self.key)])
                $0.orchestrator.iceServers = [ICEServer(urls: ["turn:turn.example.org"], username: "u", credential: "secret")]
            }) { server in
                let key = Array(Self.key.utf8)
                let valid = JoinToken.sign(swarm: "shop", expires: Date().addingTimeInterval(600), key: key)
                let cases: [(String?, String)] = [
                    (nil, "needs a join token"),
                    (JoinToken.sign(swarm: "shop", expires: Date().addingTimeInterval(-600), key: key), "expired"),
                    (JoinToken.sign(swarm: "other", expires: Date().addingTimeInterval(600), key: key), "another swarm"),
                    (
                        JoinToken.sign(swarm: "shop", expires: Date().addingTimeInterval(600), key: Array("another-key-of-at-least-32-bytes!!".utf8)),
                        "signature"
                    ),
                    (valid.split(separator: ".").prefix(2).joined(separator: ".") + ".", "signature"),
                    // alg none, unsigned.
                    ("eyJhbGciOiJub25lIn0.eyJzd2FybSI6InNob3AiLCJleHAiOjk5OTk5OTk5OTl9.", "HS256"),
                    ("not a token", "not a JWT"),
                ]
                for (token, reason) in cases {
                    let peer = TestPeer(server.signalURL)
                    let refused = try #require(try await Self.refusal(peer, Hello(swarm: "shop", targetPeers: 1, maxPeers: 1, joinToken: token)))
                    #expect(refused.code == .notAdmitted && refused.message.contains(reason), "\(token ?? "none"): \(refused)")
                    #expect(try await peer.closed()?.closeCode == .policyViolation)
                }
                // A valid token joins, and only then gets the ICE servers (TURN credentials).
                let member = TestPeer(server.signalURL)
                let welcome = try await member.join(swarm: "shop", joinToken: valid)
                #expect(welcome.iceServers.first?.credential == "secret")
                // Swarms without a rule of their own stay open.
                _ = try await TestPeer(server.signalURL).join(swarm: "open")
                #expect(server.server.orchestrator.statistics().counts.errors["\(WireErrorCode.notAdmitted.rawValue)"] == cases.count)
            }
        }

        @Test func pageOriginsAreChecked() async throws {
            try await LiveServer.with({
                $0.relay.admission = AdmissionConfiguration(default: SwarmAdmission(allowedPageOrigins: ["https://shop.example"]))
            }
            ) { server in
                let foreign = TestPeer(server.signalURL, origin: "https://evil.example")
                let refused = try await Self.refusal(foreign, Hello(swarm: "s", targetPeers: 1, maxPeers: 1))
                #expect(refused?.code == .notAdmitted)
                _ = try await TestPeer(server.signalURL, origin: "https://shop.example").join()
                _ = try await TestPeer(server.signalURL, origin: "https://SHOP.example:443").join()
                #expect(
                    try await Self.refusal(TestPeer(server.signalURL, origin: "null"), Hello(swarm: "s", targetPeers: 1, maxPeers: 1))?.code
                        == .notAdmitted)
                // A client that is not a browser sends no page origin (this one sends its ws:// URL);
                // tokens are what admit those.
                _ = try await TestPeer(server.signalURL).join()
            }
        }
    }
}
