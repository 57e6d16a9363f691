import FugitiveRTC
import FugitiveWire
import Testing

@testable import FugitivePeer

/// What a native peer makes of the ICE servers a `welcome` names: names resolved,
/// transports kept, and every entry it cannot use said, not dropped in silence.
@Suite("ICE servers from the welcome")
struct IceServerListTests {
    /// A resolver of the test's own: two names, nothing else.
    static let lookup: @Sendable (String) async -> [String] = { host in
        ["stun.example.org": ["192.0.2.10"], "turn.example.org": ["192.0.2.20", "2001:db8::20"]][host] ?? []
    }

    @Test func urlsArePartedAsRFC7064And7065Say() throws {
        #expect(
            try IceServerURL.parse("stun:stun.example.org").get() == IceServerURL(kind: .stun, host: "stun.example.org", port: 3478, transport: .udp))
        #expect(try IceServerURL.parse("turn:192.0.2.1:3479?transport=udp").get().transport == .udp)
        #expect(
            try IceServerURL.parse("turn:[2001:db8::1]:3478?transport=tcp").get()
                == IceServerURL(kind: .turn, host: "2001:db8::1", port: 3478, transport: .tcp))
        #expect(
            try IceServerURL.parse("turns:turn.example.org").get() == IceServerURL(kind: .turn, host: "turn.example.org", port: 5349, transport: .tls)
        )
        #expect(try IceServerURL.parse("turns:turn.example.org:443?transport=tcp").get().port == 443)
        for bad in [
            "stuns:stun.example.org", "http://x", "turn:host:0", "turn:host:99999", "stun:", "stun:a b", "turns:h?transport=udp",
            "stun:h?transport=tcp",
        ] {
            #expect(throws: IceServerError.self, "\(bad)") { try IceServerURL.parse(bad).get() }
        }
    }

    @Test func namesAreResolvedAndTransportsKept() async {
        let servers = [
            ICEServer(urls: ["stun:stun.example.org:3478", "stun:198.51.100.1"]),
            ICEServer(
                urls: ["turn:turn.example.org?transport=tcp", "turns:turn.example.org:443", "turn:192.0.2.30"], username: "u", credential: "p"),
        ]
        let resolved = await ResolvedIceServers.resolve(servers, lookup: Self.lookup)
        #expect(resolved.stun?.host == "192.0.2.10" && resolved.stun?.port == 3478)
        #expect(
            resolved.turn == [
                IceAgent.TurnServer(host: "192.0.2.20", port: 3478, username: "u", password: "p", transport: .tcp),
                IceAgent.TurnServer(host: "192.0.2.20", port: 443, username: "u", password: "p", transport: .tls),
                IceAgent.TurnServer(host: "192.0.2.30", port: 3478, username: "u", password: "p", transport: .udp),
            ])
        #expect(resolved.skipped.isEmpty)
    }

    @Test func whatCannotBeUsedIsSaidWithTheReason() async {
        let servers = [
            ICEServer(urls: ["stun:nowhere.example.org", "stuns:stun.example.org"]),
            ICEServer(urls: ["turn:turn.example.org"]),
        ]
        let resolved = await ResolvedIceServers.resolve(servers, lookup: Self.lookup)
        #expect(resolved.stun == nil && resolved.turn.isEmpty)
        #expect(resolved.skipped.map(\.url) == ["stun:nowhere.example.org", "stuns:stun.example.org", "turn:turn.example.org"])
        #expect(resolved.skipped[0].reason.contains("does not resolve"))
        #expect(resolved.skipped[2].reason.contains("username"))
    }

    @Test func theSystemResolverAnswersForLocalhost() async {
        #expect(await ResolvedIceServers.systemLookup("localhost").contains("127.0.0.1"))
    }
}
