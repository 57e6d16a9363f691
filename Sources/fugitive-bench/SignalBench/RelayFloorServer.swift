import ArgumentParser
import Foundation
import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// `fugitive-bench floor-server`: the floor the signalling benchmark compares against —
/// a bare Hummingbird WebSocket relay with the same shape as the orchestrator's
/// connections (a queue and a writer task per connection) but no protocol: the first
/// frame registers a 4-byte index, every later frame goes to the index in its first
/// four bytes.
struct RelayFloorServer: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "floor-server", abstract: "Bare WebSocket relay (the signalling benchmark's floor).", shouldDisplay: false)

    @Option var host = "127.0.0.1"
    @Option var port = 0

    final class Routes: Sendable {
        let table = Mutex<[UInt32: AsyncStream<ByteBuffer>.Continuation]>([:])
    }

    func run() async throws {
        var logger = Logger(label: "floor")
        logger.logLevel = .warning
        let routes = Routes()
        let router = Router(context: BasicWebSocketRequestContext.self)
        router.ws("/relay") { inbound, outbound, _ in
            let (queue, continuation) = AsyncStream.makeStream(of: ByteBuffer.self)
            var index: UInt32?
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    for await frame in queue { try? await outbound.write(.binary(frame)) }
                }
                do {
                    for try await message in inbound.messages(maxSize: 1 << 17) {
                        guard case .binary(let frame) = message, let target = frame.getInteger(at: frame.readerIndex, as: UInt32.self) else {
                            continue
                        }
                        if index == nil {
                            index = target
                            routes.table.withLock { $0[target] = continuation }
                            continuation.yield(frame)  // the acknowledgement
                        } else {
                            routes.table.withLock { $0[target] }?.yield(frame)
                        }
                    }
                } catch {}
                if let index { _ = routes.table.withLock { $0.removeValue(forKey: index) } }
                continuation.finish()
            }
        }
        let app = Application(
            router: Router(),
            server: .http1WebSocketUpgrade(webSocketRouter: router, configuration: .init(ws: .init(maxFrameSize: 1 << 17, autoPing: .disabled))),
            configuration: .init(address: .hostname(host, port: port)),
            onServerRunning: { channel in
                print("floor relay listening on ws://\(host):\(channel.localAddress?.port ?? 0)/relay")
                fflush(nil)
            },
            logger: logger)
        let group = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}
