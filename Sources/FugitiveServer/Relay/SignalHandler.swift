import FugitiveWire
import Logging
import NIOCore
import NIOWebSocket

/// One peer's WebSocket at `/v1/signal`, as a channel handler after the upgrade: checks
/// each frame (size, rate, wire format, `hello` first), hands messages to the
/// ``Orchestrator`` and writes what the orchestrator queues on the connection's
/// ``SignalLink``. Any bad input ends in an `error` with a code and a close; it never
/// affects other connections.
///
/// A handler rather than a task per connection: a peer costs a few objects on its event
/// loop, not a task with its stacks and streams (see docs/BENCHMARKS.md, memory per peer).
/// The handler is thin: what state the connection is in, and what follows from each
/// event, is ``SignalStateMachine``'s.
final class SignalHandler: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private let orchestrator: Orchestrator
    private let configuration: RelayConfiguration
    private let codec: WireCodec
    private let host: String
    private let address: NetworkAddress?
    /// The upgrade's `Origin` header: the page a browser peer runs on.
    private let pageOrigin: String?
    private var logger: Logger
    private var limiter: RateLimiter
    private var context: ChannelHandlerContext?
    /// Refused until ``handlerAdded(context:)`` admits the connection.
    private var machine = SignalStateMachine<SignalLink>(admitted: nil)
    /// The WebSocket ping under way that measures the round trip to the peer (its
    /// payload, and when it left), and the next one's timer.
    private var probe: (payload: UInt64, sent: NIODeadline)?
    private var nextProbe: Scheduled<Void>?

    /// - Parameter client: the client's IP address as text (after trusted proxies).
    /// - Parameter pageOrigin: the upgrade request's `Origin` header, if any.
    init(
        orchestrator: Orchestrator, configuration: RelayConfiguration, codec: WireCodec, client: String?, pageOrigin: String? = nil,
        logger: Logger
    ) {
        self.pageOrigin = pageOrigin
        self.orchestrator = orchestrator
        self.configuration = configuration
        self.codec = codec
        self.address = client.flatMap(NetworkAddress.init)
        // Per-address limits count IPv6 clients by their prefix (one subscriber, many addresses).
        self.host = address.map { $0.limitKey(ipv6Prefix: orchestrator.configuration.ipv6LimitPrefix).text } ?? client ?? "unknown"
        self.logger = logger
        self.limiter = RateLimiter(rate: configuration.messagesPerSecond, burst: configuration.messageBurst, now: .now)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        let link = SignalLink(limit: configuration.outboundQueueLimit, handler: self, eventLoop: context.eventLoop)
        guard orchestrator.admit(host: host, link: link) else {
            // Not admitted, so not counted: the machine holds no link, and `leave` never runs for it.
            let error = WireError(.tooManyConnections, "more than \(orchestrator.configuration.connectionsPerIP) connections from \(host)")
            write([.close(error)], context: context)
            return
        }
        machine = SignalStateMachine(admitted: link)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        end()
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        end()
        context.fireChannelInactive()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            drainLink()
            writePendingPong(context: context)
        }
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case ChannelEvent.inputClosed:
            // The peer half-closed without a close frame: nothing more will come.
            context.close(promise: nil)
        case is ChannelShouldQuiesceEvent:
            machine.link?.close(WireError(.shuttingDown, "server is shutting down"))
        default:
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // The WebSocket layer refused a frame (too large, bad fragments) and has sent its
        // own close, or the socket broke.
        logger.debug("connection ended", metadata: ["error": "\(error)"])
        context.close(promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        if machine.isOpen, frame.maskKey == nil {
            // RFC 6455 §5.1: a server must close on a frame from the client that is not masked.
            orchestrator.recordError(.malformedFrame, peer: machine.peer)
            return closeWebSocket(.protocolError, reason: "unmasked frame", context: context)
        }
        switch frame.opcode {
        case .connectionClose:
            var data = frame.unmaskedData
            switch machine.closeFrameReceived(code: data.readWebSocketErrorCode()) {
            case .answer(let code):
                // The peer closes first: answer, then close the socket.
                var answer = context.channel.allocator.buffer(capacity: 2)
                answer.write(webSocketErrorCode: code)
                let channel = context.channel
                context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: answer)))
                    .whenComplete { _ in channel.close(promise: nil) }
            case .closeSocket:
                context.close(promise: nil)
            }
        case _ where !machine.isOpen:
            // Anything after a close frame is ignored.
            break
        case .binary:
            receive(frame.unmaskedData)
        case .text:
            fail(WireError(.malformedFrame, "text frames are not part of the protocol; send binary"))
        case .ping:
            // Control frames count against the same bucket as messages, and only the latest
            // ping is answered, when the socket can take it: a client that pings without
            // reading costs one pending frame, not a queue.
            guard limiter.take(now: .now) else { return failRateLimited() }
            machine.pingReceived(frame.unmaskedData)
        case .pong:
            guard limiter.take(now: .now) else { return failRateLimited() }
            pongReceived(frame.unmaskedData)
        default:
            break
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        writePendingPong(context: context)
        context.fireChannelReadComplete()
    }

    private func writePendingPong(context: ChannelHandlerContext) {
        guard context.channel.isWritable, let pong = machine.takePendingPong() else { return }
        context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .pong, data: pong)), promise: nil)
    }

    // MARK: Messages

    private func receive(_ frame: ByteBuffer) {
        guard limiter.take(now: .now) else { return failRateLimited() }
        let message: ServerMessage
        do {
            message = try codec.decodeServerMessage(frame)
        } catch {
            return fail(error)
        }
        switch machine.messageReceived(message) {
        case .deliver(let message, let id, let link):
            orchestrator.receive(message, from: id, link: link)
        case .fail(let error):
            fail(error)
        case .none:
            break
        case .hello(let hello, _):
            do {
                try configuration.admission.rule(for: hello.swarm).admit(hello, pageOrigin: pageOrigin)
            } catch {
                return fail(error)
            }
            guard orchestrator.resumesElsewhere(hello), let context else { return join(hello, stored: nil) }
            // The session may be another instance's: look it up without blocking the loop.
            machine.lookUpStarted()
            let (orchestrator, handler) = (orchestrator, NIOLoopBound(self, eventLoop: context.eventLoop))
            let lookup = context.eventLoop.makePromise(of: StoredSession?.self)
            lookup.completeWithTask { await orchestrator.storedSession(for: hello) }
            lookup.futureResult.whenSuccess { stored in handler.value.join(hello, stored: stored) }
        }
    }

    private func join(_ hello: Hello, stored: StoredSession?) {
        guard let link = machine.joinable else { return }
        let welcome: Welcome
        do {
            welcome = try orchestrator.join(hello, address: address, stored: stored, link: link)
        } catch {
            return fail(error)
        }
        logger[metadataKey: "peer"] = "\(welcome.peer)"
        logger.debug("joined", metadata: ["swarm": "\(hello.swarm)", "resumed": "\(welcome.resumed)"])
        link.send(.welcome(welcome))
        for message in machine.joined(welcome.peer) { orchestrator.receive(message, from: welcome.peer, link: link) }
        probeRoundTrip()
    }

    // MARK: Round trips

    /// Pings the peer (a WebSocket ping, which every client answers) to measure the round
    /// trip that places it for pairing by distance; again every `roundTripProbeInterval`.
    private func probeRoundTrip() {
        let interval = configuration.roundTripProbeInterval
        guard let context, machine.isOpen, machine.peer != nil, interval > .zero else { return }
        let payload = UInt64.random(in: .min ... .max)
        var data = context.channel.allocator.buffer(capacity: 8)
        data.writeInteger(payload)
        probe = (payload, .now())
        context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .ping, data: data)), promise: nil)
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        let (seconds, attoseconds) = interval.components
        nextProbe = context.eventLoop.scheduleTask(in: .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)) {
            handler.value.probeRoundTrip()
        }
    }

    /// A pong answering the probe under way gives the round trip; any other is ignored.
    private func pongReceived(_ data: ByteBuffer) {
        var data = data
        guard let probe, data.readableBytes == 8, data.readInteger(as: UInt64.self) == probe.payload, let peer = machine.peer else { return }
        self.probe = nil
        orchestrator.serverRoundTrip(peer, millis: Double((NIODeadline.now() - probe.sent).nanoseconds) / 1e6)
    }

    private func failRateLimited() {
        fail(WireError(.rateLimited, "more than \(configuration.messagesPerSecond) messages per second"))
    }

    private func fail(_ error: WireError) {
        logger.info("closing connection", metadata: ["error": "\(error)"])
        orchestrator.recordError(error.code, peer: machine.peer)
        machine.link?.close(error)
    }

    /// The connection is gone (either side): the session ends now, whatever is queued.
    private func end() {
        nextProbe?.cancel()
        nextProbe = nil
        guard let (link, peer) = machine.ended() else { return }
        link.finish()
        orchestrator.leave(peer, host: host, link: link)
    }

    // MARK: Writing

    /// Writes what the link has queued, in one flush. Runs on the event loop.
    func drainLink() {
        guard let context, machine.isOpen, let link = machine.link else { return }
        write(link.drain(writable: context.channel.isWritable), context: context)
    }

    private func write(_ items: [OutboundQueue.Item], context: ChannelHandlerContext) {
        guard !items.isEmpty else { return }
        for item in items {
            switch item {
            case .message(let message):
                context.write(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .binary, data: codec.encode(message))), promise: nil)
            case .close(let error):
                let reply = codec.encode(ServerMessage.error(ErrorMessage(error)))
                context.write(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .binary, data: reply)), promise: nil)
                closeWebSocket(Self.closeCode(for: error.code), reason: error.code.name, context: context)
                return
            }
        }
        context.flush()
    }

    /// Sends a close frame and gives the peer a moment to answer before the socket closes
    /// (closing at once could reset the connection before the peer read the error).
    private func closeWebSocket(_ code: WebSocketErrorCode, reason: String, context: ChannelHandlerContext) {
        machine.closeFrameSent()
        var data = context.channel.allocator.buffer(capacity: 2 + reason.utf8.count)
        data.write(webSocketErrorCode: code)
        data.writeString(reason)
        context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: data)), promise: nil)
        let channel = context.channel
        context.eventLoop.scheduleTask(in: .seconds(2)) { channel.close(promise: nil) }
    }

    static func closeCode(for code: WireErrorCode) -> WebSocketErrorCode {
        switch code.rawValue {
        case 1000..<2000, WireErrorCode.notAdmitted.rawValue: .policyViolation
        case WireErrorCode.shuttingDown.rawValue: .goingAway
        default: .normalClosure
        }
    }
}
