/// How an instance takes part in a cluster (see ``ClusterStore``).
public struct ClusterConfiguration: Sendable, Decodable, Equatable {
    /// The shared store, `postgres://user[:password]@host[:port]/database`; `nil` runs a
    /// single instance with its state in memory.
    public var url: String?
    /// Time between this instance's heartbeats in the store. Default 1 s.
    public var heartbeatInterval: Duration = .seconds(1)
    /// An instance silent this long is dead: its peers, links and holdings are deleted
    /// and partners elsewhere are told `peer-left`. Default 5 s.
    public var instanceExpiry: Duration = .seconds(5)
    /// Time between writes of this instance's directory changes. Default 0.1 s.
    public var flushInterval: Duration = .milliseconds(100)

    public init() {}

    /// The file's keys (durations in seconds).
    static var fields: [ConfigurationField<Self>] {
        [
            .optional("url", \.url), .seconds("heartbeatInterval", \.heartbeatInterval), .seconds("instanceExpiry", \.instanceExpiry),
            .seconds("flushInterval", \.flushInterval),
        ]
    }

    public init(from decoder: any Decoder) throws { self = try decoder.decodeConfiguration(Self(), fields: Self.fields) }

    func validate() throws(ConfigurationError) {
        for (name, seconds) in [("heartbeatInterval", heartbeatInterval), ("instanceExpiry", instanceExpiry), ("flushInterval", flushInterval)] {
            guard seconds > .zero else { throw ConfigurationError("cluster.\(name) must be a positive number of seconds") }
        }
        guard instanceExpiry >= heartbeatInterval * 2 else {
            throw ConfigurationError("cluster.instanceExpiry must be at least twice cluster.heartbeatInterval")
        }
    }
}
