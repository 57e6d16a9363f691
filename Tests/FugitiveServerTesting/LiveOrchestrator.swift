import FugitiveServer
import Logging
import Prometheus
import ServiceLifecycle

/// A real orchestrator (`OrchestratorServer`, WebSocket and HTTP) in the test's process, on
/// a free port unless told: what the server's live tests and the peers' end-to-end tests
/// run against. Each suite wraps it with the configuration its tests assume.
public struct LiveOrchestrator: Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    public let server: OrchestratorServer
    public let registry: PrometheusCollectorRegistry
    public let port: Int
    let group: ServiceGroup
    let task: Task<Void, any Error>

    /// `ws://host:port/v1/signal`.
    public var signalURL: String { "ws://\(server.configuration.host):\(port)/v1/signal" }
    /// `http://host:port`.
    public var httpURL: String { "http://\(server.configuration.host):\(port)" }

    /// Starts a server with `configuration` (its `port` 0 picks a free one), logging from
    /// `logLevel` up, and waits until it listens.
    public static func launch(
        _ configuration: ServerConfiguration, cluster: (any ClusterStore)? = nil, logLevel: Logger.Level = .warning
    ) async throws -> LiveOrchestrator {
        var logger = Logger(label: "test.orchestrator")
        logger.logLevel = logLevel
        let registry = PrometheusCollectorRegistry()
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let server = try OrchestratorServer(configuration: configuration, registry: registry, cluster: cluster, logger: logger) {
            continuation.yield($0)
        }
        let group = ServiceGroup(configuration: .init(services: [server], logger: logger))
        let task = Task { try await group.run() }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw Failure(description: "the orchestrator did not start") }
        return LiveOrchestrator(server: server, registry: registry, port: port, group: group, task: task)
    }

    /// Shuts the server down gracefully (peers are told) and waits for it.
    public func stop() async {
        await group.triggerGracefulShutdown()
        _ = try? await task.value
    }
}
