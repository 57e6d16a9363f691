import FugitiveWire
import NIOHTTPTypes
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypesHTTP1
import NIOWebSocket

/// The server's child channel: HTTP/1.1 for `/health`, `/metrics` and `/v1/stats` through
/// the Hummingbird router, and `GET /v1/signal` upgraded to a WebSocket served by a
/// ``SignalHandler`` right in the channel pipeline.
///
/// Hummingbird's own WebSocket channel gives each connection a task reading an async
/// sequence; at ten thousand mostly idle peers that task, its streams and buffers were
/// most of the memory per peer. Here an upgraded connection returns from `handle` at
/// once and lives on as a handler.
struct SignalChannel: ServerChildChannel, HTTPChannelHandler {
    enum Negotiated: Sendable {
        case signal
        case http(NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>)
    }

    struct Value: ServerChildChannelValue {
        let negotiated: EventLoopFuture<Negotiated>
        let channel: any Channel
    }

    static let path = "/v1/signal"

    let responder: HTTPChannelHandler.Responder
    let orchestrator: Orchestrator
    let configuration: RelayConfiguration
    let trustedProxies: Set<NetworkAddress>
    let gate: ConnectionGate
    let logger: Logger

    /// - Parameter gate: counts this server's open connections (one gate per listener).
    init(
        responder: @escaping HTTPChannelHandler.Responder, orchestrator: Orchestrator, configuration: RelayConfiguration, gate: ConnectionGate,
        logger: Logger
    ) {
        self.responder = responder
        self.orchestrator = orchestrator
        self.configuration = configuration
        self.trustedProxies = Set(configuration.trustedProxies.compactMap(NetworkAddress.init))
        self.gate = gate
        self.logger = logger
    }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        // Counted at accept, before any byte is read; a trusted proxy is capped in total only.
        let remote = channel.remoteAddress?.ipAddress.flatMap(NetworkAddress.init)
        let key = remote.flatMap { trustedProxies.contains($0) ? nil : $0.limitKey(ipv6Prefix: orchestrator.configuration.ipv6LimitPrefix) }
        guard gate.enter(key) else {
            orchestrator.recordError(.tooManyConnections, peer: nil)
            channel.close(promise: nil)
            return channel.eventLoop.makeFailedFuture(ConnectionRefused())
        }
        let gate = gate
        channel.closeFuture.whenComplete { _ in gate.leave(key) }
        // The request head must come in time (the HTTP layer's idle timeout starts only after it).
        let headDeadline = channel.eventLoop.scheduleTask(in: .init(configuration.requestHeadTimeout)) {
            channel.close(promise: nil)
        }
        return channel.eventLoop.makeCompletedFuture {
            let maxFrameSize = configuration.maxFrameSize * 2
            let upgrader = NIOTypedWebSocketServerUpgrader<Negotiated>(
                // Frames up to twice the limit are read so that they can be refused with
                // the protocol's own error; larger ones are cut off by the WebSocket
                // layer (close 1009).
                maxFrameSize: maxFrameSize,
                shouldUpgrade: { channel, head in
                    headDeadline.cancel()
                    let isSignal = head.method == .GET && head.uri.split(separator: "?").first.map(String.init) == Self.path
                    return channel.eventLoop.makeSucceededFuture(isSignal ? HTTPHeaders() : nil)
                },
                upgradePipelineHandler: { channel, head in
                    channel.eventLoop.makeCompletedFuture {
                        let client = Self.clientAddress(
                            remote: channel.remoteAddress?.ipAddress, forwardedFor: head.headers["X-Forwarded-For"], trusted: trustedProxies)
                        let handler = SignalHandler(
                            orchestrator: orchestrator, configuration: configuration, codec: WireCodec(limits: configuration.wireLimits),
                            client: client, pageOrigin: SwarmAdmission.pageOrigin(in: head.headers["Origin"]), logger: self.logger)
                        try channel.pipeline.syncOperations.addHandlers(
                            NIOWebSocketFrameAggregator(
                                minNonFinalFragmentSize: 0, maxAccumulatedFrameCount: 64, maxAccumulatedFrameSize: maxFrameSize),
                            handler)
                        return Negotiated.signal
                    }
                })
            let upgrade = NIOTypedHTTPServerUpgradeConfiguration(
                upgraders: [upgrader],
                notUpgradingCompletionHandler: { channel in
                    headDeadline.cancel()
                    return channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(HTTP1ToHTTPServerCodec(secure: false))
                        try channel.pipeline.syncOperations.addHandler(HTTPConnectionStateHandler(idleTimeout: .seconds(30), logger: logger))
                        return Negotiated.http(
                            try NIOAsyncChannel(wrappingChannelSynchronously: channel, configuration: .init(isOutboundHalfClosureEnabled: true)))
                    }
                })
            var pipeline = NIOUpgradableHTTPServerPipelineConfiguration(upgradeConfiguration: upgrade)
            pipeline.enablePipelining = false  // the async channel serves one request at a time
            pipeline.enableErrorHandling = false  // Hummingbird answers parser errors itself
            pipeline.enableResponseHeaderValidation = false  // HTTP types already validate
            let negotiated = try channel.pipeline.syncOperations.configureUpgradableHTTPServerPipeline(configuration: pipeline)
            return Value(negotiated: negotiated, channel: channel)
        }
    }

    func handle(value: Value, logger: Logger) async {
        do {
            switch try await value.negotiated.get() {
            case .signal:
                // The WebSocket lives on in its handler; no task is kept for it.
                return
            case .http(let http):
                await handleHTTP(asyncChannel: http, logger: logger)
            }
        } catch {
            logger.debug("connection ended before a request", metadata: ["error": "\(error)"])
        }
    }

    /// The client's address: the socket's peer, or — when that is a trusted proxy — the
    /// last address the proxy appended to `X-Forwarded-For`.
    static func clientAddress(remote: String?, forwardedFor: [String], trusted: Set<NetworkAddress>) -> String? {
        guard let remote, let address = NetworkAddress(remote), trusted.contains(address) else { return remote }
        let hops = forwardedFor.flatMap { $0.split(separator: ",") }.map { String($0.trimmed(of: " \t")) }
        guard let last = hops.last, NetworkAddress(last) != nil else { return remote }
        return last
    }
}
