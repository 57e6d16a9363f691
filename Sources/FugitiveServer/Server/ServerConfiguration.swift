import FugitiveWire

/// Everything an orchestrator instance is configured with, by layer: the HTTP server's
/// own settings here, the relay's (admission among them), the orchestration's, vouching
/// and the cluster in their own structs, each knob named and defaulted once there.
///
/// A JSON configuration file may set any subset, with flat keys named after the knobs
/// (`"pairTimeout": 20`, durations in seconds) and nested objects for `vouch`, `cluster`,
/// `admission` and `tls`; an unknown key is an error. Command-line flags override the file.
public struct ServerConfiguration: Sendable, Decodable, Equatable {
    /// Address to bind. Default `127.0.0.1`.
    public var host = "127.0.0.1"
    /// Port to bind; 0 picks a free one. Default 8080.
    public var port = 8080
    /// The bearer token that `/metrics`, `/v1/stats`, `/v1/graph` and `/dashboard` require
    /// (`Authorization: Bearer …`, or `?token=` for the dashboard page). Without one they
    /// answer loopback callers only.
    public var operatorToken: String?
    /// PEM certificate chain and key for `wss://`; plain `ws://` when absent.
    public var tls: TLSFiles?
    /// Per-connection limits of the signalling relay.
    public var relay = RelayConfiguration()
    /// Sessions, swarms, pairs, holdings, resumes and the ICE servers handed to peers.
    public var orchestrator = OrchestratorState.Configuration()
    /// Which origins the server fetches to vouch for digests.
    public var vouch = VouchConfiguration()
    /// Running as one instance of a cluster; a single instance in memory by default.
    public var cluster = ClusterConfiguration()

    public init() {}

    /// Paths of the PEM files for TLS.
    public struct TLSFiles: Sendable, Codable, Equatable {
        public var certificateChain: String
        public var privateKey: String

        public init(certificateChain: String, privateKey: String) {
            self.certificateChain = certificateChain
            self.privateKey = privateKey
        }
    }

    /// The file's keys: each knob once, under its property's name.
    static var fields: [ConfigurationField<Self>] {
        [
            .value("host", \.host), .value("port", \.port), .optional("operatorToken", \.operatorToken), .optional("tls", \.tls),
            .value("vouch", \.vouch), .value("cluster", \.cluster), .value("admission", \.relay.admission),
            // The relay.
            .value("maxFrameSize", \.relay.maxFrameSize), .value("messagesPerSecond", \.relay.messagesPerSecond),
            .value("messageBurst", \.relay.messageBurst), .value("maxConnections", \.relay.maxConnections),
            .seconds("requestHeadTimeout", \.relay.requestHeadTimeout), .value("trustedProxies", \.relay.trustedProxies),
            .value("outboundQueueLimit", \.relay.outboundQueueLimit), .seconds("roundTripProbeInterval", \.relay.roundTripProbeInterval),
            // The orchestration.
            .value("connectionsPerIP", \.orchestrator.connectionsPerIP), .seconds("helloTimeout", \.orchestrator.helloTimeout),
            .value("peersPerSwarm", \.orchestrator.peersPerSwarm), .value("holdingsPerPeer", \.orchestrator.holdingsPerPeer),
            .seconds("pairTimeout", \.orchestrator.pairTimeout), .seconds("heartbeatInterval", \.orchestrator.heartbeatInterval),
            .seconds("unreachableRetry", \.orchestrator.unreachableRetry),
            .seconds("heartbeatTimeout", \.orchestrator.heartbeatTimeout), .seconds("resumeGrace", \.orchestrator.resumeGrace),
            .value("parkedPerAddress", \.orchestrator.parkedPerAddress), .value("maxParkedSessions", \.orchestrator.maxParkedSessions),
            .value("holdingBytesPerPeer", \.orchestrator.holdingBytesPerPeer),
            .value("holdingBytesPerAddress", \.orchestrator.holdingBytesPerAddress),
            .value("maxHoldingBytes", \.orchestrator.maxHoldingBytes), .value("ipv6LimitPrefix", \.orchestrator.ipv6LimitPrefix),
            .value("iceServers", \.orchestrator.iceServers),
            .optional("turnSecret", \.orchestrator.turn.secret), .value("turnURLs", \.orchestrator.turn.urls),
            .seconds("turnCredentialLifetime", \.orchestrator.turn.lifetime),
        ]
    }

    /// Decodes a partial configuration: absent keys keep their defaults, unknown keys
    /// are an error so that a typo in a config file does not pass silently.
    public init(from decoder: any Decoder) throws { self = try decoder.decodeConfiguration(Self(), fields: Self.fields) }

    /// Checks values a file or flag could get wrong; the message names the field.
    public func validate() throws(ConfigurationError) {
        func check(_ ok: Bool, _ message: String) throws(ConfigurationError) {
            if !ok { throw ConfigurationError(message) }
        }
        let (r, o) = (relay, orchestrator)
        try check((0...65_535).contains(port), "port \(port) is not in 0...65535")
        try check(r.maxFrameSize >= 1024, "maxFrameSize \(r.maxFrameSize) is below 1024 bytes")
        try check(
            r.messagesPerSecond > 0 && r.messagesPerSecond.isFinite && r.messageBurst >= 1 && r.messageBurst.isFinite,
            "messagesPerSecond must be > 0 and messageBurst ≥ 1")
        try check(o.connectionsPerIP >= 1, "connectionsPerIP must be ≥ 1")
        try check(r.maxConnections >= 1, "maxConnections must be ≥ 1")
        try check((0...128).contains(o.ipv6LimitPrefix), "ipv6LimitPrefix must be in 0...128")
        try check(o.parkedPerAddress >= 0 && o.maxParkedSessions >= 0, "parkedPerAddress and maxParkedSessions must be ≥ 0")
        try check(
            o.holdingBytesPerPeer >= 0 && o.holdingBytesPerAddress >= 0 && o.maxHoldingBytes >= 0,
            "holdingBytesPerPeer, holdingBytesPerAddress and maxHoldingBytes must be ≥ 0")
        try check(operatorToken.map { $0.count >= 16 } ?? true, "operatorToken must be at least 16 characters")
        try check(r.outboundQueueLimit >= 16, "outboundQueueLimit must be ≥ 16")
        try check(o.peersPerSwarm >= 1 && o.holdingsPerPeer >= 0, "peersPerSwarm must be ≥ 1 and holdingsPerPeer ≥ 0")
        for (name, duration) in [
            ("helloTimeout", o.helloTimeout), ("pairTimeout", o.pairTimeout), ("heartbeatInterval", o.heartbeatInterval),
            ("heartbeatTimeout", o.heartbeatTimeout), ("resumeGrace", o.resumeGrace), ("requestHeadTimeout", r.requestHeadTimeout),
        ] {
            try check(duration > .zero, "\(name) must be a positive number of seconds")
        }
        try check(o.unreachableRetry >= .zero, "unreachableRetry must be a number of seconds ≥ 0")
        try check(o.heartbeatTimeout > o.heartbeatInterval, "heartbeatTimeout must exceed heartbeatInterval")
        for server in o.iceServers {
            let turn = server.urls.first(where: ICEServer.isTURN)
            try check(
                turn == nil || (server.username != nil && server.credential != nil),
                "iceServers: \(turn ?? "") needs a username and a credential (peers cannot use it otherwise)")
        }
        if let problem = o.turn.problem() { throw ConfigurationError(problem) }
        try cluster.validate()
        try r.admission.validate()
        for proxy in r.trustedProxies {
            try check(NetworkAddress(proxy) != nil, "trustedProxies: '\(proxy)' is not an IP address")
        }
        try check(
            vouch.fetchesInFlightPerPeer >= 1 && vouch.fetchesPerMinutePerPeer >= 1 && vouch.fetchesInFlight >= 1 && vouch.fetchesPerMinute >= 1,
            "vouch fetch limits must be ≥ 1")
        try check(
            vouch.timeout > .zero && vouch.failureTTL >= .zero && vouch.minimumTTL >= .zero,
            "vouch.timeout must be > 0, failureTTL and minimumTTL ≥ 0")
        for origin in vouch.allowedOrigins {
            try check(WebOrigin(origin) != nil, "vouch.allowedOrigins: '\(origin)' is not scheme://host[:port]")
        }
    }
}
