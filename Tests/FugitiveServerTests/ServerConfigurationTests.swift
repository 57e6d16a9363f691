import Foundation
import FugitiveServer
import FugitiveWire
import Testing

@Suite("Server configuration")
struct ServerConfigurationTests {
    @Test func aPartialFileKeepsDefaults() throws {
        let json =
            #"{"port": 9000, "connectionsPerIP": 3, "vouch": {"allowedOrigins": ["https://cdn.example.org"]}, "iceServers": [{"u": ["stun:stun.example.org"]}]}"#
        let c = try JSONDecoder().decode(ServerConfiguration.self, from: Data(json.utf8))
        #expect(c.port == 9000 && c.orchestrator.connectionsPerIP == 3)
        #expect(c.host == ServerConfiguration().host && c.relay.messagesPerSecond == ServerConfiguration().relay.messagesPerSecond)
        #expect(c.vouch.allowedOrigins == ["https://cdn.example.org"] && !c.vouch.allowPrivateAddresses)
        #expect(c.orchestrator.iceServers.first?.urls == ["stun:stun.example.org"])
        try c.validate()
    }

    @Test func anUnknownKeyIsAnError() {
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(ServerConfiguration.self, from: Data(#"{"prot": 9000}"#.utf8))
        }
    }

    @Test func impossibleValuesAreRefusedWithTheFieldName() {
        var c = ServerConfiguration()
        c.port = 70_000
        #expect(throws: ConfigurationError.self) { try c.validate() }
        c = ServerConfiguration()
        c.orchestrator.heartbeatTimeout = .seconds(1)
        c.orchestrator.heartbeatInterval = .seconds(5)
        #expect { try c.validate() } throws: { ($0 as? ConfigurationError)?.description.contains("heartbeatTimeout") == true }
        c = ServerConfiguration()
        c.vouch.allowedOrigins = ["example.org"]
        #expect { try c.validate() } throws: { ($0 as? ConfigurationError)?.description.contains("allowedOrigins") == true }
        c = ServerConfiguration()
        c.relay.trustedProxies = ["lb.local"]
        #expect(throws: ConfigurationError.self) { try c.validate() }
        // A TURN server peers could not use (no credentials) is refused, not handed out.
        c = ServerConfiguration()
        c.orchestrator.iceServers = [ICEServer(urls: ["stun:stun.example.org"]), ICEServer(urls: ["turns:turn.example.org:443"])]
        #expect { try c.validate() } throws: { ($0 as? ConfigurationError)?.description.contains("turns:turn.example.org:443") == true }
        c.orchestrator.iceServers[1].username = "u"
        c.orchestrator.iceServers[1].credential = "p"
        #expect(throws: Never.self) { try c.validate() }
    }

    @Test func durationsAreSecondsInTheFileAndBoundedThere() throws {
        let c = try JSONDecoder().decode(ServerConfiguration.self, from: Data(#"{"pairTimeout": 1.5, "cluster": {"flushInterval": 0.05}}"#.utf8))
        #expect(c.orchestrator.pairTimeout == .milliseconds(1500) && c.cluster.flushInterval == .milliseconds(50))
        for bad in [#"{"pairTimeout": -1}"#, #"{"resumeGrace": 1e300}"#, #"{"vouch": {"timeout": -2}}"#] {
            #expect(throws: DecodingError.self, "\(bad)") { try JSONDecoder().decode(ServerConfiguration.self, from: Data(bad.utf8)) }
        }
    }
}
