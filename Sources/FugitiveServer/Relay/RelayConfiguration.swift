import FugitiveWire

/// What the relay enforces on each connection before and while a peer talks to the
/// orchestrator: frame size, message rate, accept limits, the deadline for a request
/// head, the outbound queue, whose `X-Forwarded-For` counts, and who may join which swarm.
public struct RelayConfiguration: Sendable, Equatable {
    /// Largest WebSocket message a peer may send, in bytes. Default 64 KiB.
    public var maxFrameSize = WireLimits.serverLink.maxFrameSize
    /// Sustained messages per second a connection may send. Default 50.
    public var messagesPerSecond = 50.0
    /// Messages a connection may send in a burst above the sustained rate. Default 200.
    public var messageBurst = 200.0
    /// Open TCP connections in total (peers, HTTP callers, and connections that have not
    /// sent a request yet); beyond it new ones are closed at once. Default 50 000.
    public var maxConnections = 50_000
    /// A new connection must send its request head (the WebSocket upgrade or an HTTP
    /// request) within this time. Default 10 s.
    public var requestHeadTimeout: Duration = .seconds(10)
    /// Addresses of load balancers whose `X-Forwarded-For` header names the real client;
    /// from anyone else the header is ignored. Empty by default.
    public var trustedProxies: [String] = []
    /// Outbound messages queued for one connection before it counts as stalled and is
    /// closed, so a peer that stops reading cannot make the server buffer without bound.
    /// Default 1024.
    public var outboundQueueLimit = 1024
    /// How often the server pings each peer (a WebSocket ping) to measure its round trip,
    /// which places the peer for pairing by distance; zero: never. Default 30 s, and once
    /// right after the `welcome`.
    public var roundTripProbeInterval: Duration = .seconds(30)
    /// Who may join which swarm (page origins, join tokens), checked at `hello`; every
    /// swarm open by default.
    public var admission = AdmissionConfiguration()

    public init() {}

    /// Wire limits for the server link with the configured frame size.
    public var wireLimits: WireLimits {
        var limits = WireLimits.serverLink
        limits.maxFrameSize = maxFrameSize
        return limits
    }
}
