/// Which origins the server may fetch to vouch for a digest.
public struct VouchConfiguration: Sendable, Decodable, Equatable {
    /// Origins (`https://cdn.example.com`, `http://host:8080`) the server fetches from.
    /// Empty: vouching is refused for every URL.
    public var allowedOrigins: [String] = []
    /// Whether allowed origins may resolve to private, loopback or link-local addresses.
    /// Off by default so that the server cannot be made to probe its own network.
    public var allowPrivateAddresses = false
    /// Largest resource the server hashes, in bytes. Default 256 MiB.
    public var maxBytes = 256 << 20
    /// How long a digest is cached when the origin gives no caching headers. Default 300 s.
    public var defaultTTL: Duration = .seconds(300)
    /// How long one origin fetch may take, body included. Default 30 s.
    public var timeout: Duration = .seconds(30)
    /// How long a failed vouch is answered again without a fetch. Default 10 s.
    public var failureTTL: Duration = .seconds(10)
    /// How long even an uncacheable (`no-store`) digest is reused by this instance. Default 5 s.
    public var minimumTTL: Duration = .seconds(5)
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

    /// The file's keys (durations in seconds).
    static var fields: [ConfigurationField<Self>] {
        [
            .value("allowedOrigins", \.allowedOrigins), .value("allowPrivateAddresses", \.allowPrivateAddresses), .value("maxBytes", \.maxBytes),
            .seconds("defaultTTL", \.defaultTTL), .seconds("timeout", \.timeout), .seconds("failureTTL", \.failureTTL),
            .seconds("minimumTTL", \.minimumTTL), .value("fetchesInFlightPerPeer", \.fetchesInFlightPerPeer),
            .value("fetchesPerMinutePerPeer", \.fetchesPerMinutePerPeer), .value("fetchesInFlight", \.fetchesInFlight),
            .value("fetchesPerMinute", \.fetchesPerMinute),
        ]
    }

    public init(from decoder: any Decoder) throws { self = try decoder.decodeConfiguration(Self(), fields: Self.fields) }
}
