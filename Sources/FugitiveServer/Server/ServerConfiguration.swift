import FugitiveWire

/// Everything an orchestrator instance is configured with. Every field has a default;
/// a JSON configuration file may set any subset of them (durations in seconds), and
/// command-line flags override the file.
public struct ServerConfiguration: Sendable, Codable, Equatable {
    /// Address to bind. Default `127.0.0.1`.
    public var host = "127.0.0.1"
    /// Port to bind; 0 picks a free one. Default 8080.
    public var port = 8080
    /// Largest WebSocket message a peer may send, in bytes. Default 64 KiB.
    public var maxFrameSize = WireLimits.serverLink.maxFrameSize
    /// Sustained messages per second a connection may send.
    public var messagesPerSecond = 50.0
    /// Messages a connection may send in a burst above the sustained rate.
    public var messageBurst = 200.0
    /// Open connections from one IP address. Default 32.
    public var connectionsPerIP = 32
    /// Open TCP connections in total (peers, HTTP callers, and connections that have not
    /// sent a request yet); beyond it new ones are closed at once. Default 50 000.
    public var maxConnections = 50_000
    /// Seconds a new connection has to send its request head (the WebSocket upgrade or
    /// an HTTP request). Default 10.
    public var requestHeadTimeout = 10.0
    /// IPv6 clients count against per-address limits by this prefix length. Default 64.
    public var ipv6LimitPrefix = 64
    /// Addresses of load balancers whose `X-Forwarded-For` header names the real client;
    /// from anyone else the header is ignored. Empty by default.
    public var trustedProxies: [String] = []
    /// A connection must say `hello` within this many seconds. Default 10.
    public var helloTimeout = 10.0
    /// Outbound messages queued for one connection before it counts as stalled and is
    /// closed, so a peer that stops reading cannot make the server buffer without bound.
    public var outboundQueueLimit = 1024
    /// Peers per swarm. Default 100 000.
    public var peersPerSwarm = 100_000
    /// Resources one peer may announce. Default 10 000.
    public var holdingsPerPeer = 10_000
    /// Seconds a pair has to report `connected`. Default 20.
    public var pairTimeout = 20.0
    /// Heartbeat interval announced to peers, in seconds. Default 15.
    public var heartbeatInterval = 15.0
    /// A peer silent for this many seconds is dropped. Default 45.
    public var heartbeatTimeout = 45.0
    /// Seconds a closed session waits for a resume. Default 60.
    public var resumeGrace = 60.0
    /// Closed sessions kept for a resume per address; the oldest makes room. Default 64.
    public var parkedPerAddress = 64
    /// Closed sessions kept for a resume in total. Default 100 000.
    public var maxParkedSessions = 100_000
    /// Bytes one session's holdings may take (URLs plus bookkeeping). Default 2 MiB.
    public var holdingBytesPerPeer = 2 << 20
    /// Bytes the holdings of one address's sessions (live and parked) may take. Default 32 MiB.
    public var holdingBytesPerAddress = 32 << 20
    /// Bytes all holdings may take. Default 1 GiB.
    public var maxHoldingBytes = 1 << 30
    /// The bearer token that `/metrics`, `/v1/stats`, `/v1/graph` and `/dashboard` require
    /// (`Authorization: Bearer …`, or `?token=` for the dashboard page). Without one they
    /// answer loopback callers only.
    public var operatorToken: String?
    /// ICE servers handed to peers in `welcome`.
    public var iceServers: [ICEServer] = []
    /// Which origins the server fetches to vouch for digests.
    public var vouch = VouchConfiguration()
    /// PEM certificate chain and key for `wss://`; plain `ws://` when absent.
    public var tls: TLSFiles?
    /// Running as one instance of a cluster; a single instance in memory by default.
    public var cluster = ClusterConfiguration()
    /// Who may join which swarm (page origins, join tokens); every swarm open by default.
    public var admission = AdmissionConfiguration()

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

    /// The orchestrator state's share of the configuration.
    public var orchestrator: OrchestratorState.Configuration {
        var c = OrchestratorState.Configuration()
        c.pairTimeout = .seconds(pairTimeout)
        c.heartbeatInterval = .seconds(heartbeatInterval)
        c.heartbeatTimeout = .seconds(heartbeatTimeout)
        c.resumeGrace = .seconds(resumeGrace)
        c.maxHoldingsPerPeer = holdingsPerPeer
        c.maxPeersPerSwarm = peersPerSwarm
        c.iceServers = iceServers
        c.parkedPerAddress = parkedPerAddress
        c.maxParkedSessions = maxParkedSessions
        c.holdingBytesPerAddress = holdingBytesPerAddress
        c.holdingBytesPerPeer = holdingBytesPerPeer
        c.maxHoldingBytes = maxHoldingBytes
        c.ipv6LimitPrefix = ipv6LimitPrefix
        return c
    }

    /// Wire limits for the server link with the configured frame size.
    public var wireLimits: WireLimits {
        var limits = WireLimits.serverLink
        limits.maxFrameSize = maxFrameSize
        return limits
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case host, port, maxFrameSize, messagesPerSecond, messageBurst, connectionsPerIP, trustedProxies, helloTimeout
        case outboundQueueLimit, peersPerSwarm, holdingsPerPeer, pairTimeout, heartbeatInterval
        case heartbeatTimeout, resumeGrace, iceServers, vouch, tls, cluster
        case maxConnections, requestHeadTimeout, ipv6LimitPrefix, parkedPerAddress, maxParkedSessions
        case holdingBytesPerAddress, maxHoldingBytes, operatorToken, holdingBytesPerPeer, admission
    }

    /// Decodes a partial configuration: absent keys keep their defaults, unknown keys
    /// are an error so that a typo in a config file does not pass silently.
    public init(from decoder: any Decoder) throws {
        let all = try decoder.container(keyedBy: AnyKey.self)
        let known = Set(CodingKeys.allCases.map(\.stringValue))
        if let unknown = all.allKeys.first(where: { !known.contains($0.stringValue) }) {
            throw DecodingError.dataCorruptedError(
                forKey: unknown, in: all, debugDescription: "unknown configuration key '\(unknown.stringValue)'")
        }
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func value<T: Decodable>(_ key: CodingKeys, _ fallback: T) throws -> T {
            try c.decodeIfPresent(T.self, forKey: key) ?? fallback
        }
        let d = ServerConfiguration()
        host = try value(.host, d.host)
        port = try value(.port, d.port)
        maxFrameSize = try value(.maxFrameSize, d.maxFrameSize)
        messagesPerSecond = try value(.messagesPerSecond, d.messagesPerSecond)
        messageBurst = try value(.messageBurst, d.messageBurst)
        connectionsPerIP = try value(.connectionsPerIP, d.connectionsPerIP)
        trustedProxies = try value(.trustedProxies, d.trustedProxies)
        helloTimeout = try value(.helloTimeout, d.helloTimeout)
        outboundQueueLimit = try value(.outboundQueueLimit, d.outboundQueueLimit)
        peersPerSwarm = try value(.peersPerSwarm, d.peersPerSwarm)
        holdingsPerPeer = try value(.holdingsPerPeer, d.holdingsPerPeer)
        pairTimeout = try value(.pairTimeout, d.pairTimeout)
        heartbeatInterval = try value(.heartbeatInterval, d.heartbeatInterval)
        heartbeatTimeout = try value(.heartbeatTimeout, d.heartbeatTimeout)
        resumeGrace = try value(.resumeGrace, d.resumeGrace)
        iceServers = try value(.iceServers, d.iceServers)
        vouch = try value(.vouch, d.vouch)
        tls = try c.decodeIfPresent(TLSFiles.self, forKey: .tls)
        cluster = try value(.cluster, d.cluster)
        maxConnections = try value(.maxConnections, d.maxConnections)
        requestHeadTimeout = try value(.requestHeadTimeout, d.requestHeadTimeout)
        ipv6LimitPrefix = try value(.ipv6LimitPrefix, d.ipv6LimitPrefix)
        parkedPerAddress = try value(.parkedPerAddress, d.parkedPerAddress)
        maxParkedSessions = try value(.maxParkedSessions, d.maxParkedSessions)
        holdingBytesPerAddress = try value(.holdingBytesPerAddress, d.holdingBytesPerAddress)
        maxHoldingBytes = try value(.maxHoldingBytes, d.maxHoldingBytes)
        holdingBytesPerPeer = try value(.holdingBytesPerPeer, d.holdingBytesPerPeer)
        admission = try value(.admission, d.admission)
        operatorToken = try c.decodeIfPresent(String.self, forKey: .operatorToken)
    }

    /// Checks values a file or flag could get wrong; the message names the field.
    public func validate() throws(ConfigurationError) {
        func check(_ ok: Bool, _ message: String) throws(ConfigurationError) {
            if !ok { throw ConfigurationError(message) }
        }
        try check((0...65_535).contains(port), "port \(port) is not in 0...65535")
        try check(maxFrameSize >= 1024, "maxFrameSize \(maxFrameSize) is below 1024 bytes")
        try check(messagesPerSecond > 0 && messageBurst >= 1, "messagesPerSecond must be > 0 and messageBurst ≥ 1")
        try check(connectionsPerIP >= 1, "connectionsPerIP must be ≥ 1")
        try check(maxConnections >= 1, "maxConnections must be ≥ 1")
        try check((0...128).contains(ipv6LimitPrefix), "ipv6LimitPrefix must be in 0...128")
        try check(parkedPerAddress >= 0 && maxParkedSessions >= 0, "parkedPerAddress and maxParkedSessions must be ≥ 0")
        try check(
            holdingBytesPerPeer >= 0 && holdingBytesPerAddress >= 0 && maxHoldingBytes >= 0,
            "holdingBytesPerPeer, holdingBytesPerAddress and maxHoldingBytes must be ≥ 0")
        try check(operatorToken.map { $0.count >= 16 } ?? true, "operatorToken must be at least 16 characters")
        try check(outboundQueueLimit >= 16, "outboundQueueLimit must be ≥ 16")
        try check(peersPerSwarm >= 1 && holdingsPerPeer >= 0, "peersPerSwarm must be ≥ 1 and holdingsPerPeer ≥ 0")
        for (name, seconds) in [
            ("helloTimeout", helloTimeout), ("pairTimeout", pairTimeout), ("heartbeatInterval", heartbeatInterval),
            ("heartbeatTimeout", heartbeatTimeout), ("resumeGrace", resumeGrace), ("requestHeadTimeout", requestHeadTimeout),
        ] {
            try check(seconds > 0 && seconds.isFinite, "\(name) must be a positive number of seconds")
        }
        try check(heartbeatTimeout > heartbeatInterval, "heartbeatTimeout must exceed heartbeatInterval")
        try cluster.validate()
        try admission.validate()
        for proxy in trustedProxies {
            try check(NetworkAddress(proxy) != nil, "trustedProxies: '\(proxy)' is not an IP address")
        }
        try check(
            vouch.fetchesInFlightPerPeer >= 1 && vouch.fetchesPerMinutePerPeer >= 1 && vouch.fetchesInFlight >= 1 && vouch.fetchesPerMinute >= 1,
            "vouch fetch limits must be ≥ 1")
        try check(vouch.timeout > 0 && vouch.failureTTL >= 0 && vouch.minimumTTL >= 0, "vouch.timeout must be > 0, failureTTL and minimumTTL ≥ 0")
        for origin in vouch.allowedOrigins {
            try check(OriginPolicy.Origin(origin) != nil, "vouch.allowedOrigins: '\(origin)' is not scheme://host[:port]")
        }
    }
}

struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}
