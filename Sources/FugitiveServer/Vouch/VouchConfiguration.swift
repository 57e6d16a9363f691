/// Which origins the server may fetch to vouch for a digest.
public struct VouchConfiguration: Sendable, Codable, Equatable {
    /// Origins (`https://cdn.example.com`, `http://host:8080`) the server fetches from.
    /// Empty: vouching is refused for every URL.
    public var allowedOrigins: [String] = []
    /// Whether allowed origins may resolve to private, loopback or link-local addresses.
    /// Off by default so that the server cannot be made to probe its own network.
    public var allowPrivateAddresses = false
    /// Largest resource the server hashes, in bytes. Default 256 MiB.
    public var maxBytes = 256 << 20
    /// Seconds a digest is cached when the origin gives no caching headers. Default 300.
    public var defaultTTL = 300.0
    /// Seconds one origin fetch may take, body included. Default 30.
    public var timeout = 30.0
    /// Seconds a failed vouch is answered again without a fetch. Default 10.
    public var failureTTL = 10.0
    /// Seconds even an uncacheable (`no-store`) digest is reused by this instance. Default 5.
    public var minimumTTL = 5.0
    /// Origin fetches one peer may have under way. Default 2.
    public var fetchesInFlightPerPeer = 2
    /// Origin fetches one peer may cause per minute. Default 20.
    public var fetchesPerMinutePerPeer = 20
    /// Origin fetches under way in total. Default 16.
    public var fetchesInFlight = 16
    /// Origin fetches per minute in total. Default 240.
    public var fetchesPerMinute = 240

    public init(allowedOrigins: [String] = [], allowPrivateAddresses: Bool = false) {
        self.allowedOrigins = allowedOrigins
        self.allowPrivateAddresses = allowPrivateAddresses
    }

    enum CodingKeys: String, CodingKey {
        case allowedOrigins, allowPrivateAddresses, maxBytes, defaultTTL, timeout, failureTTL, minimumTTL
        case fetchesInFlightPerPeer, fetchesPerMinutePerPeer, fetchesInFlight, fetchesPerMinute
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = VouchConfiguration()
        allowedOrigins = try c.decodeIfPresent([String].self, forKey: .allowedOrigins) ?? d.allowedOrigins
        allowPrivateAddresses = try c.decodeIfPresent(Bool.self, forKey: .allowPrivateAddresses) ?? d.allowPrivateAddresses
        maxBytes = try c.decodeIfPresent(Int.self, forKey: .maxBytes) ?? d.maxBytes
        defaultTTL = try c.decodeIfPresent(Double.self, forKey: .defaultTTL) ?? d.defaultTTL
        timeout = try c.decodeIfPresent(Double.self, forKey: .timeout) ?? d.timeout
        failureTTL = try c.decodeIfPresent(Double.self, forKey: .failureTTL) ?? d.failureTTL
        minimumTTL = try c.decodeIfPresent(Double.self, forKey: .minimumTTL) ?? d.minimumTTL
        fetchesInFlightPerPeer = try c.decodeIfPresent(Int.self, forKey: .fetchesInFlightPerPeer) ?? d.fetchesInFlightPerPeer
        fetchesPerMinutePerPeer = try c.decodeIfPresent(Int.self, forKey: .fetchesPerMinutePerPeer) ?? d.fetchesPerMinutePerPeer
        fetchesInFlight = try c.decodeIfPresent(Int.self, forKey: .fetchesInFlight) ?? d.fetchesInFlight
        fetchesPerMinute = try c.decodeIfPresent(Int.self, forKey: .fetchesPerMinute) ?? d.fetchesPerMinute
    }
}
