/// How an instance takes part in a cluster (see ``ClusterStore``).
public struct ClusterConfiguration: Sendable, Codable, Equatable {
    /// The shared store, `postgres://user[:password]@host[:port]/database`; `nil` runs a
    /// single instance with its state in memory.
    public var url: String?
    /// Seconds between this instance's heartbeats in the store. Default 1.
    public var heartbeatInterval = 1.0
    /// An instance silent this many seconds is dead: its peers, links and holdings are
    /// deleted and partners elsewhere are told `peer-left`. Default 5.
    public var instanceExpiry = 5.0
    /// Seconds between writes of this instance's directory changes. Default 0.1.
    public var flushInterval = 0.1

    public init() {}

    enum CodingKeys: String, CodingKey { case url, heartbeatInterval, instanceExpiry, flushInterval }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = ClusterConfiguration()
        url = try c.decodeIfPresent(String.self, forKey: .url)
        heartbeatInterval = try c.decodeIfPresent(Double.self, forKey: .heartbeatInterval) ?? d.heartbeatInterval
        instanceExpiry = try c.decodeIfPresent(Double.self, forKey: .instanceExpiry) ?? d.instanceExpiry
        flushInterval = try c.decodeIfPresent(Double.self, forKey: .flushInterval) ?? d.flushInterval
    }

    func validate() throws(ConfigurationError) {
        for (name, seconds) in [("heartbeatInterval", heartbeatInterval), ("instanceExpiry", instanceExpiry), ("flushInterval", flushInterval)] {
            guard seconds > 0 && seconds.isFinite else { throw ConfigurationError("cluster.\(name) must be a positive number of seconds") }
        }
        guard instanceExpiry >= 2 * heartbeatInterval else {
            throw ConfigurationError("cluster.instanceExpiry must be at least twice cluster.heartbeatInterval")
        }
    }
}
