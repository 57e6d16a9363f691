import FugitiveServer
import FugitiveWire
import Logging
import Prometheus
import ServiceLifecycle

/// A real orchestrator on 127.0.0.1 and a free port, in this process, for one test.
struct LiveServer {
    let server: OrchestratorServer
    let registry: PrometheusCollectorRegistry
    let port: Int
    let group: ServiceGroup
    let task: Task<Void, any Error>

    var signalURL: String { "ws://127.0.0.1:\(port)/v1/signal" }
    var httpURL: String { "http://127.0.0.1:\(port)" }

    /// Starts a server with `configure` applied to a test configuration (port 0, and
    /// 127.0.0.1 trusted as a proxy so peers can claim addresses with X-Forwarded-For).
    static func start(cluster: (any ClusterStore)? = nil, _ configure: (inout ServerConfiguration) -> Void = { _ in }) async throws -> LiveServer {
        var configuration = ServerConfiguration()
        configuration.port = 0
        configuration.trustedProxies = ["127.0.0.1"]
        // Behind a trusted proxy loopback proves nothing: the operator endpoints want the token.
        configuration.operatorToken = Self.operatorToken
        configure(&configuration)
        var logger = Logger(label: "test.server")
        logger.logLevel = .warning
        let registry = PrometheusCollectorRegistry()
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let server = try OrchestratorServer(configuration: configuration, registry: registry, cluster: cluster, logger: logger) { port in
            continuation.yield(port)
        }
        let group = ServiceGroup(configuration: .init(services: [server], logger: logger))
        let task = Task { try await group.run() }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw TestFailure("server did not start") }
        return LiveServer(server: server, registry: registry, port: port, group: group, task: task)
    }

    /// The operator token test servers are started with.
    static let operatorToken = "test-operator-token-0123456789"

    func stop() async {
        await group.triggerGracefulShutdown()
        _ = try? await task.value
    }

    /// Runs `body` against a fresh server and stops it afterwards, also on failure.
    static func with<T>(
        _ configure: (inout ServerConfiguration) -> Void = { _ in }, _ body: (LiveServer) async throws -> T
    ) async throws -> T {
        let server = try await start(configure)
        do {
            let result = try await body(server)
            await server.stop()
            return result
        } catch {
            await server.stop()
            throw error
        }
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
