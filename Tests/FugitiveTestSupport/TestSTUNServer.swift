import NIOCore
import NIOPosix
import Synchronization

/// A STUN server for tests (RFC 8489 Binding only, UDP on loopback): it answers each
/// Binding request with the sender's address, after a random delay up to `maxDelay` — so
/// that answers arrive while the connection that asked may already be closing.
public final class TestSTUNServer: Sendable {
    private let channel: any Channel
    private let answered: Answered

    final class Answered: Sendable {
        let count = Atomic(0)
    }

    /// The port it listens on (127.0.0.1).
    public var port: Int { channel.localAddress?.port ?? 0 }

    /// Binding requests answered so far.
    public var requests: Int { answered.count.load(ordering: .relaxed) }

    public init(maxDelay: Duration = .milliseconds(30)) async throws {
        let answered = Answered()
        self.answered = answered
        channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Responder(maxDelay: maxDelay, answered: answered))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
    }

    public func stop() async { try? await channel.close() }

    final class Responder: ChannelInboundHandler, Sendable {
        typealias InboundIn = AddressedEnvelope<ByteBuffer>
        typealias OutboundOut = AddressedEnvelope<ByteBuffer>
        static let magicCookie: UInt32 = 0x2112_A442
        let maxDelay: Duration
        let answered: Answered

        init(maxDelay: Duration, answered: Answered) {
            self.maxDelay = maxDelay
            self.answered = answered
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let envelope = unwrapInboundIn(data)
            var request = envelope.data
            guard request.readableBytes >= 20, request.readInteger(as: UInt16.self) == 0x0001,
                request.readInteger(as: UInt16.self) != nil, request.readInteger(as: UInt32.self) == Self.magicCookie,
                let transaction = request.readBytes(length: 12), case .v4(let sender) = envelope.remoteAddress,
                let port = envelope.remoteAddress.port
            else { return }
            // XOR-MAPPED-ADDRESS (RFC 8489 §14.2), IPv4.
            let address = UInt32(bigEndian: sender.address.sin_addr.s_addr)
            var response = context.channel.allocator.buffer(capacity: 32)
            response.writeInteger(UInt16(0x0101))
            response.writeInteger(UInt16(12))
            response.writeInteger(Self.magicCookie)
            response.writeBytes(transaction)
            response.writeInteger(UInt16(0x0020))
            response.writeInteger(UInt16(8))
            response.writeInteger(UInt16(0x0001))
            response.writeInteger(UInt16(port) ^ UInt16(Self.magicCookie >> 16))
            response.writeInteger(address ^ Self.magicCookie)
            let reply = AddressedEnvelope(remoteAddress: envelope.remoteAddress, data: response)
            let delay = TimeAmount.nanoseconds(Int64.random(in: 0...TimeAmount(maxDelay).nanoseconds))
            let channel = context.channel
            let answered = answered
            context.eventLoop.scheduleTask(in: delay) {
                answered.count.add(1, ordering: .relaxed)
                channel.writeAndFlush(NIOAny(reply), promise: nil)
            }
        }
    }
}
