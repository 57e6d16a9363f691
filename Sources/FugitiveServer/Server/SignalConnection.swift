import FugitiveWire
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOWebSocket

/// One peer's WebSocket at `/v1/signal`: reads and checks frames (size, rate, wire
/// format, `hello` first), hands messages to the ``Orchestrator``, and writes what the
/// orchestrator queues in the connection's ``Outbox``. Any bad input ends in an `error`
/// with a code and a close; it never affects other connections.
struct SignalConnection {
    let orchestrator: Orchestrator
    let configuration: ServerConfiguration
    let codec: WireCodec
    var logger: Logger

    init(orchestrator: Orchestrator, configuration: ServerConfiguration, logger: Logger) {
        self.orchestrator = orchestrator
        self.configuration = configuration
        self.codec = WireCodec(limits: configuration.wireLimits)
        self.logger = logger
    }

    /// Serves the connection until either side closes it.
    /// - Parameter client: the client's IP address as text (after trusted proxies).
    func run(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, client: String?) async {
        let host = client ?? "unknown"
        let outbox = Outbox(limit: configuration.outboundQueueLimit)
        guard orchestrator.admit(host: host, outbox: outbox) else {
            let error = WireError(.tooManyConnections, "more than \(configuration.connectionsPerIP) connections from \(host)")
            try? await Self.refuse(error, closeCode: .policyViolation, outbound: outbound, codec: codec)
            return
        }
        let address = client.flatMap(NetworkAddress.init)
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await Self.write(outbox, to: outbound, codec: codec) }
            let id = await read(inbound, outbox: outbox, address: address)
            // The peer is gone or being closed: the session ends now, whatever is queued.
            orchestrator.leave(id, host: host, outbox: outbox)
            outbox.finish()
            await group.waitForAll()
        }
    }

    /// Reads until the peer closes or a violation closes the connection; returns the
    /// peer's id if it joined.
    private func read(_ inbound: WebSocketInboundStream, outbox: Outbox, address: NetworkAddress?) async -> PeerID? {
        var id: PeerID?
        var logger = logger
        var limiter = RateLimiter(rate: configuration.messagesPerSecond, burst: configuration.messageBurst, now: .now)
        func fail(_ error: WireError) async {
            logger.info("closing connection", metadata: ["error": "\(error)"])
            orchestrator.recordError(error.code, peer: id)
            outbox.close(error)
        }
        do {
            // Frames up to twice the limit are read so they can be refused with the
            // protocol's own error; larger ones are cut off by the WebSocket layer (1009).
            for try await message in inbound.messages(maxSize: configuration.maxFrameSize * 2) {
                guard limiter.take(now: .now) else {
                    await fail(WireError(.rateLimited, "more than \(configuration.messagesPerSecond) messages per second"))
                    return id
                }
                guard case .binary(let frame) = message else {
                    await fail(WireError(.malformedFrame, "text frames are not part of the protocol; send binary"))
                    return id
                }
                let decoded: ServerMessage
                do {
                    decoded = try codec.decodeServerMessage(frame)
                } catch {
                    await fail(error)
                    return id
                }
                if let id {
                    orchestrator.receive(decoded, from: id, outbox: outbox)
                    continue
                }
                guard case .hello(let hello) = decoded else {
                    await fail(WireError(.unexpectedMessage, "the first message must be hello, not type \(decoded.type)"))
                    return nil
                }
                do {
                    let welcome = try orchestrator.join(hello, address: address, outbox: outbox)
                    id = welcome.peer
                    logger[metadataKey: "peer"] = "\(welcome.peer)"
                    logger.debug("joined", metadata: ["swarm": "\(hello.swarm)", "resumed": "\(welcome.resumed)"])
                    outbox.send(.welcome(welcome))
                } catch {
                    await fail(error)
                    return nil
                }
            }
        } catch {
            // The WebSocket layer refused a frame (too large, bad continuation) or the
            // connection broke; it has already closed or is closing the socket.
            logger.debug("connection ended", metadata: ["error": "\(error)"])
        }
        return id
    }

    /// Writes queued messages until the queue ends, then closes the WebSocket with the
    /// close code matching why it ended.
    private static func write(_ outbox: Outbox, to outbound: WebSocketOutboundWriter, codec: WireCodec) async {
        do {
            for await item in outbox.stream {
                switch item {
                case .message(let message):
                    try await outbound.write(.binary(codec.encode(message)))
                case .close(let error):
                    try await refuse(error, closeCode: closeCode(for: error.code), outbound: outbound, codec: codec)
                    return
                }
            }
            if outbox.overflowed {
                let error = WireError(.rateLimited, "\(outbox.limit) messages queued: the peer is not reading")
                try await refuse(error, closeCode: .policyViolation, outbound: outbound, codec: codec)
            } else {
                try await outbound.close(.normalClosure, reason: nil)
            }
        } catch {
            // The socket is already gone; nothing left to tell the peer.
        }
    }

    /// Sends `error` and closes the WebSocket.
    private static func refuse(
        _ error: WireError, closeCode: WebSocketErrorCode, outbound: WebSocketOutboundWriter, codec: WireCodec
    ) async throws {
        try await outbound.write(.binary(codec.encode(ServerMessage.error(ErrorMessage(error)))))
        try await outbound.close(closeCode, reason: error.code.name)
    }

    static func closeCode(for code: WireErrorCode) -> WebSocketErrorCode {
        switch code.rawValue {
        case 1000..<2000: .policyViolation
        case WireErrorCode.shuttingDown.rawValue: .goingAway
        default: .normalClosure
        }
    }
}
