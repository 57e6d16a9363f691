import Metrics
import FugitiveWire

/// The orchestrator's metrics through swift-metrics, created on an explicit factory so
/// that several servers (tests) can each have their own registry. Mutated only under the
/// ``Orchestrator``'s lock.
struct ServerMetrics {
    let factory: any MetricsFactory
    let peers: Gauge
    let swarms: Gauge
    let links: Gauge
    let relayedLinks: Gauge
    let pendingPairs: Gauge
    let holdings: Gauge
    let connections: Counter
    let pairsMade: Counter
    let pairsFailed: Counter
    let signalsRelayed: Counter
    let vouches: Counter
    /// Bytes peers reported serving over relayed links (``Delivery/servedRelayed``).
    let relayedBytes: Counter
    private var relayedBytesCounted: UInt64 = 0
    private var errors: [UInt16: Counter] = [:]

    init(factory: any MetricsFactory) {
        self.factory = factory
        peers = Gauge(label: "fugitive_peers", factory: factory)
        swarms = Gauge(label: "fugitive_swarms", factory: factory)
        links = Gauge(label: "fugitive_links", factory: factory)
        relayedLinks = Gauge(label: "fugitive_links_relayed", factory: factory)
        pendingPairs = Gauge(label: "fugitive_pending_pairs", factory: factory)
        holdings = Gauge(label: "fugitive_holdings", factory: factory)
        connections = Counter(label: "fugitive_connections_total", factory: factory)
        pairsMade = Counter(label: "fugitive_pairs_made_total", factory: factory)
        pairsFailed = Counter(label: "fugitive_pairs_failed_total", factory: factory)
        signalsRelayed = Counter(label: "fugitive_signals_relayed_total", factory: factory)
        vouches = Counter(label: "fugitive_vouches_total", factory: factory)
        relayedBytes = Counter(label: "fugitive_relayed_bytes_total", factory: factory)
    }

    /// Brings the relayed-bytes counter up to `total` (the reports' sum, which only grows).
    mutating func recordRelayedBytes(_ total: UInt64) {
        guard total > relayedBytesCounted else { return }
        relayedBytes.increment(by: Int64(clamping: total - relayedBytesCounted))
        relayedBytesCounted = total
    }

    mutating func error(_ code: WireErrorCode) {
        if let counter = errors[code.rawValue] { return counter.increment() }
        let counter = Counter(label: "fugitive_errors_total", dimensions: [("code", "\(code.rawValue)"), ("name", code.name)], factory: factory)
        errors[code.rawValue] = counter
        counter.increment()
    }
}

/// Totals and per-swarm numbers served at `/v1/stats`.
public struct ServerStatistics: Sendable, Codable, Equatable {
    /// Counters kept per swarm and in total.
    public struct Counts: Sendable, Codable, Equatable {
        public var pairsMade = 0
        public var pairsFailed = 0
        public var signalsRelayed = 0
        /// Errors sent to peers, by code.
        public var errors: [String: Int] = [:]
    }

    public struct Swarm: Sendable, Codable, Equatable {
        public var swarm: String
        public var shape: SwarmShape
        public var counts: Counts
        /// Bytes its peers reported (since the server started, including peers gone).
        public var delivery: Delivery
    }

    public var peers: Int
    public var swarmCount: Int
    public var links: Int
    /// Live links through a TURN server.
    public var relayedLinks = 0
    public var pendingPairs: Int
    public var resources: Int
    public var holdings: Int
    /// Closed sessions waiting for a resume, and the holdings they keep.
    public var parkedSessions = 0
    public var parkedHoldings = 0
    /// Bytes all holdings (live and parked) are charged against `maxHoldingBytes`.
    public var holdingBytes = 0
    /// Open TCP connections, and connections refused at accept since the start.
    public var connections = 0
    public var refusedConnections = 0
    public var counts: Counts
    public var delivery: Delivery
    /// This instance's place in its cluster; absent for a single instance.
    public var cluster: ClusterStatistics? = nil
    public var swarms: [Swarm]
}
