import Foundation
import FugitiveWire
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore
import NIOSSL
import Prometheus
import ServiceLifecycle

/// The `fugitive server` process as a ``Service``: the Hummingbird application with
/// `GET /v1/signal` (WebSocket, see ``SignalChannel``), `/health`, `/metrics` and `/v1/stats`, plus the
/// twice-a-second expiry of pairs and sessions. On graceful shutdown every peer is told
/// `shutting-down` before the HTTP server stops.
public struct OrchestratorServer: Service {
    public let configuration: ServerConfiguration
    public let orchestrator: Orchestrator
    let voucher: DigestVoucher?
    /// Open TCP connections, counted at accept.
    let connectionGate: ConnectionGate
    let registry: PrometheusCollectorRegistry
    let logger: Logger
    let onRunning: @Sendable (Int) async -> Void

    /// - Parameters:
    ///   - registry: where `/metrics` reads from; the server's metrics are created on it.
    ///   - onRunning: called with the bound port once the server listens.
    ///   - cluster: the store shared with the cluster's other instances; `nil` runs a
    ///     single instance in memory.
    public init(
        configuration: ServerConfiguration, registry: PrometheusCollectorRegistry, cluster: (any ClusterStore)? = nil,
        logger: Logger, onRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) throws(ConfigurationError) {
        try configuration.validate()
        self.configuration = configuration
        self.registry = registry
        self.logger = logger
        self.onRunning = onRunning
        let voucher =
            configuration.vouch.allowedOrigins.isEmpty
            ? nil : DigestVoucher(configuration: configuration.vouch, registry: cluster, logger: logger)
        self.voucher = voucher
        self.orchestrator = Orchestrator(
            configuration: configuration.orchestrator, voucher: voucher, cluster: cluster,
            metricsFactory: PrometheusMetricsFactory(registry: registry), logger: logger)
        self.connectionGate = ConnectionGate(perAddress: configuration.orchestrator.connectionsPerIP, total: configuration.relay.maxConnections)
    }

    /// The orchestrator's totals and per-swarm numbers with this listener's open and
    /// refused connections.
    public func statistics() -> ServerStatistics {
        var statistics = orchestrator.statistics()
        (statistics.connections, statistics.refusedConnections) = connectionGate.snapshot
        return statistics
    }

    public func run() async throws {
        let application = Application(
            router: httpRouter(),
            server: try serverBuilder(),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "fugitive"),
            onServerRunning: { [onRunning] channel in await onRunning(channel.localAddress?.port ?? 0) },
            logger: logger)
        let ticker = ExpiryTicker(orchestrator: orchestrator, voucher: voucher)
        // The ticker is last so that it is shut down first: peers are told before the
        // listener goes away.
        // Shut down in reverse: peers are told, then the instance leaves the cluster, then
        // the listener stops.
        var services: [any Service] = [application]
        if orchestrator.cluster != nil {
            // Peers are let in only once the instance is part of the cluster.
            let (ready, readiness) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
            services = [
                AfterReady(ready: ready, service: application),
                ClusterService(orchestrator: orchestrator, configuration: configuration.cluster, logger: logger) { readiness.yield() },
            ]
        }
        services.append(ticker)
        let group = ServiceGroup(configuration: .init(services: services, logger: logger))
        try await group.run()
    }

    func serverBuilder() throws -> HTTPServerBuilder {
        let (orchestrator, configuration, gate, logger) = (orchestrator, configuration, connectionGate, logger)
        let signal = HTTPServerBuilder { responder in
            SignalChannel(responder: responder, orchestrator: orchestrator, configuration: configuration.relay, gate: gate, logger: logger)
        }
        guard let tls = configuration.tls else { return signal }
        do {
            let chain = try NIOSSLCertificate.fromPEMFile(tls.certificateChain).map { NIOSSLCertificateSource.certificate($0) }
            let key = try NIOSSLPrivateKey(file: tls.privateKey, format: .pem)
            let tlsConfiguration = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
            return try HTTPServerBuilder.tls(signal, tlsConfiguration: tlsConfiguration)
        } catch {
            throw ConfigurationError("tls: cannot load \(tls.certificateChain) / \(tls.privateKey): \(error)")
        }
    }

    func httpRouter() -> Router<OrchestratorRequestContext> {
        let router = Router(context: OrchestratorRequestContext.self)
        let (orchestrator, registry, server) = (orchestrator, registry, self)
        router.get("/health") { _, _ in HealthStatus(status: "ok", peers: orchestrator.peerCount) }
        router.get("/fugitive.js") { _, _ in BrowserFiles.response(BrowserFiles.module, type: "text/javascript; charset=utf-8") }
        // The modules `/fugitive.js` re-exports (its relative imports resolve here); only the known names.
        router.get("/fugitive/:name") { _, context -> Response in
            guard let name = context.parameters.get("name"), let part = BrowserFiles.parts[name] else { return Response(status: .notFound) }
            return BrowserFiles.response(part, type: "text/javascript; charset=utf-8")
        }
        router.get("/fugitive-sw.js") { _, _ in BrowserFiles.response(BrowserFiles.serviceWorker, type: "text/javascript; charset=utf-8") }
        router.get("/demo") { _, _ in BrowserFiles.response(BrowserFiles.demo, type: "text/html; charset=utf-8") }
        // Operator endpoints: a token, or loopback when none is configured.
        let operatorRoutes = router.group().add(middleware: OperatorAccessMiddleware(access: OperatorAccess(configuration: configuration)))
        operatorRoutes.get("/metrics") { _, _ in
            orchestrator.refreshGauges()
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
        }
        operatorRoutes.get("/v1/stats") { _, _ in server.statistics() }
        operatorRoutes.get("/v1/graph") { request, _ -> Response in
            guard let graph = orchestrator.graph(of: request.uri.queryParameters.get("swarm")) else { return Response(status: .notFound) }
            return try JSONResponse(graph)
        }
        operatorRoutes.get("/dashboard") { _, _ in
            BrowserFiles.response(BrowserFiles.dashboard, type: "text/html; charset=utf-8", anyOrigin: false)
        }
        return router
    }
}

struct HealthStatus: ResponseEncodable {
    let status: String
    let peers: Int
}

extension ServerStatistics: ResponseEncodable {}

/// Runs a service once `ready` yields (or not at all when shut down before).
struct AfterReady: Service {
    let ready: AsyncStream<Void>
    let service: any Service

    func run() async throws {
        let isReady = await cancelWhenGracefulShutdown {
            for await _ in ready { return true }
            return false
        }
        guard isReady == true else { return }
        try await service.run()
    }
}

/// Drives time in the orchestrator, and on graceful shutdown closes every session.
struct ExpiryTicker: Service {
    let orchestrator: Orchestrator
    let voucher: DigestVoucher?

    func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            try? await Task.sleep(for: .milliseconds(500))
            orchestrator.tick()
        }
        orchestrator.shutdown()
        await voucher?.shutdown()
    }
}
