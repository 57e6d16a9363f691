import ArgumentParser
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket

/// `fugitive-bench nio-floor-server`: the same bare relay as `floor-server`, written
/// directly on SwiftNIO channel handlers (no async sequences, no task per connection),
/// to show what a leaner WebSocket path could reach in memory and CPU per message.
struct NIORelayFloorServer: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nio-floor-server", abstract: "Bare WebSocket relay on NIO handlers (a second floor).", shouldDisplay: false)

    @Option var host = "127.0.0.1"
    @Option var port = 0

    /// Registered channels by index.
    final class Routes: Sendable {
        let table = NIOLockedValueBox<[UInt32: any Channel]>([:])
    }

    final class RelayHandler: ChannelInboundHandler {
        typealias InboundIn = WebSocketFrame
        typealias OutboundOut = WebSocketFrame
        let routes: Routes
        var index: UInt32?

        init(routes: Routes) { self.routes = routes }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let frame = unwrapInboundIn(data)
            switch frame.opcode {
            case .binary:
                let payload = frame.unmaskedData
                guard let target = payload.getInteger(at: payload.readerIndex, as: UInt32.self) else { return }
                let out = WebSocketFrame(fin: true, opcode: .binary, data: payload)
                if index == nil {
                    index = target
                    let channel = context.channel
                    routes.table.withLockedValue { $0[target] = channel }
                    context.writeAndFlush(wrapOutboundOut(out), promise: nil)
                } else if let channel = routes.table.withLockedValue({ $0[target] }) {
                    channel.writeAndFlush(out, promise: nil)
                }
            case .connectionClose:
                context.close(promise: nil)
            default:
                break
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            if let index { _ = routes.table.withLockedValue { $0.removeValue(forKey: index) } }
            context.fireChannelInactive()
        }
    }

    func run() async throws {
        let routes = Routes()
        let upgrader = NIOWebSocketServerUpgrader(
            maxFrameSize: 1 << 17,
            shouldUpgrade: { channel, _ in channel.eventLoop.makeSucceededFuture(HTTPHeaders()) },
            upgradePipelineHandler: { channel, _ in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(RelayHandler(routes: routes)) }
            })
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 4096)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline(withServerUpgrade: (upgraders: [upgrader], completionHandler: { _ in }))
            }
            .bind(host: host, port: port).get()
        print("nio floor relay listening on ws://\(host):\(channel.localAddress?.port ?? 0)/relay")
        fflush(nil)
        try await channel.closeFuture.get()
    }
}
