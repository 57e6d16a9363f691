import FugitiveWire
import Logging
import NIOCore
import NIOEmbedded
import NIOWebSocket
import Prometheus
import Testing

@testable import FugitiveServer

/// ``SignalHandler`` on an `EmbeddedChannel`: WebSocket frames in, frames out, a real
/// ``Orchestrator`` behind it, no socket.
@Suite("Signal handler without a socket")
struct SignalHandlerTests {
    struct Connection {
        let channel: EmbeddedChannel
        let codec: WireCodec

        init(client: String = "198.51.100.7") throws {
            let configuration = ServerConfiguration()
            var logger = Logger(label: "test.signal")
            logger.logLevel = .critical
            let orchestrator = Orchestrator(
                configuration: configuration.orchestrator, voucher: nil,
                metricsFactory: PrometheusMetricsFactory(registry: PrometheusCollectorRegistry()),
                logger: logger)
            codec = WireCodec(limits: configuration.relay.wireLimits)
            let handler = SignalHandler(orchestrator: orchestrator, configuration: configuration.relay, codec: codec, client: client, logger: logger)
            channel = EmbeddedChannel(handler: handler)
        }

        /// Sends a frame as a client does: masked unless told.
        func send(_ opcode: WebSocketOpcode, _ payload: ByteBuffer, masked: Bool = true) throws {
            var data = payload
            let key: WebSocketMaskingKey? = masked ? WebSocketMaskingKey([0x12, 0x34, 0x56, 0x78])! : nil
            if let key { data.webSocketMask(key) }
            try channel.writeInbound(WebSocketFrame(fin: true, opcode: opcode, maskKey: key, data: data))
            channel.embeddedEventLoop.run()
        }

        func send(_ message: ServerMessage) throws { try send(.binary, codec.encode(message)) }

        /// The frames written so far.
        func written() throws -> [WebSocketFrame] {
            var frames: [WebSocketFrame] = []
            while let frame = try channel.readOutbound(as: WebSocketFrame.self) { frames.append(frame) }
            return frames
        }

        func messages(in frames: [WebSocketFrame]) -> [ServerMessage] {
            frames.filter { $0.opcode == .binary }.compactMap { try? codec.decodeServerMessage($0.data) }
        }

        static func closeCode(in frames: [WebSocketFrame]) -> UInt16? {
            guard var data = frames.last(where: { $0.opcode == .connectionClose })?.data, let code = data.readInteger(as: UInt16.self) else {
                return nil
            }
            return code
        }
    }

    @Test func helloIsWelcomedAndPingsGetOnePong() throws {
        let connection = try Connection()
        try connection.send(.hello(Hello(swarm: "s", targetPeers: 2, maxPeers: 8)))
        let frames = try connection.written()
        guard case .welcome(let welcome)? = connection.messages(in: frames).first else {
            Issue.record("no welcome: \(frames.map(\.opcode))")
            return
        }
        #expect(!welcome.peer.description.isEmpty)
        // Two pings in one read: only the latest is answered, at the end of the read.
        // (`writeInbound` would end a read after each frame.)
        connection.channel.pipeline.fireChannelRead(NIOAny(Self.masked(.ping, "one")))
        connection.channel.pipeline.fireChannelRead(NIOAny(Self.masked(.ping, "two")))
        #expect(try connection.written().isEmpty, "a pong before the read ended")
        connection.channel.pipeline.fireChannelReadComplete()
        let pongs = try connection.written().filter { $0.opcode == .pong }
        #expect(pongs.map { String(buffer: $0.data) } == ["two"])
    }

    @Test func aPeersCloseIsAnsweredWithAValidCode() throws {
        for (sent, answered) in [(UInt16(1000), UInt16(1000)), (1005, 1002), (4001, 4001)] {
            let connection = try Connection()
            var payload = ByteBuffer()
            payload.writeInteger(sent)
            try connection.send(.connectionClose, payload)
            #expect(Connection.closeCode(in: try connection.written()) == answered, "close \(sent)")
            // Frames after the close are not read.
            try connection.send(.hello(Hello(swarm: "s", targetPeers: 2, maxPeers: 8)))
            #expect(try connection.written().isEmpty)
        }
    }

    @Test func unmaskedTextAndEarlyFramesAreRefused() throws {
        let unmasked = try Connection()
        try unmasked.send(.binary, unmasked.codec.encode(.hello(Hello(swarm: "s", targetPeers: 2, maxPeers: 8))), masked: false)
        #expect(Connection.closeCode(in: try unmasked.written()) == 1002)

        let text = try Connection()
        try text.send(.text, ByteBuffer(string: "{}"))
        let frames = try text.written()
        guard case .error(let error)? = text.messages(in: frames).first else { Issue.record("no error for a text frame"); return }
        #expect(error.code == .malformedFrame)
        #expect(Connection.closeCode(in: frames) == 1008)

        let early = try Connection()
        try early.send(.ping(Heartbeat(nonce: 1)))
        guard case .error(let notHello)? = early.messages(in: try early.written()).first else { Issue.record("no error before hello"); return }
        #expect(notHello.code == .unexpectedMessage)
    }

    static func masked(_ opcode: WebSocketOpcode, _ text: String) -> WebSocketFrame {
        let key = WebSocketMaskingKey([1, 2, 3, 4])!
        var data = ByteBuffer(string: text)
        data.webSocketMask(key)
        return WebSocketFrame(fin: true, opcode: opcode, maskKey: key, data: data)
    }
}
