import FugitivePeer
import Hummingbird
import Logging
import ServiceLifecycle
import Synchronization

/// A local HTTP gateway in front of a native peer, so that any HTTP client can use the
/// swarm: `GET /fetch?url=…` answers with the resource, and plain `http://` requests sent
/// to the gateway as a forward proxy (`curl -x http://127.0.0.1:PORT http://origin/x`)
/// are answered the same way. Responses carry `X-Fugitive-Source` and
/// `X-Fugitive-Digest`; failures map to HTTP statuses with a plain-text reason.
public struct PeerGateway: Service {
    public struct Configuration: Sendable {
        /// Where to listen; keep it on loopback: the gateway fetches what it is asked to.
        public var host: String
        /// 0 picks a free port (reported through `onListening`).
        public var port: Int
        /// `scheme://host[:port]` origins the gateway serves; empty serves any.
        public var allowedOrigins: [String]
        /// A fetch's deadline.
        public var deadline: Duration

        public init(host: String = "127.0.0.1", port: Int = 8081, allowedOrigins: [String] = [], deadline: Duration = .seconds(30)) {
            self.host = host
            self.port = port
            self.allowedOrigins = allowedOrigins
            self.deadline = deadline
        }
    }

    let application: Application<RouterResponder<BasicRequestContext>>

    /// - Parameter onListening: called with the bound port once the gateway listens.
    public init(peer: Peer, configuration: Configuration, logger: Logger, onListening: @escaping @Sendable (Int) -> Void = { _ in }) {
        let handler = GatewayHandler(peer: peer, configuration: configuration)
        let bound = BoundPort()
        let router = Router()
        router.add(middleware: ForwardProxyMiddleware(handler: handler, host: configuration.host, bound: bound))
        router.get("/fetch") { request, _ -> Response in
            guard let url = request.uri.queryParameters.get("url") else {
                return GatewayHandler.failure(.badRequest, "give the resource as ?url=…")
            }
            return await handler.respond(url)
        }
        router.get("/health") { _, _ in "ok" }
        application = Application(
            router: router, configuration: .init(address: .hostname(configuration.host, port: configuration.port)),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                bound.port.withLock { $0 = port }
                onListening(port)
            }, logger: logger)
    }

    public func run() async throws { try await application.run() }
}

/// Requests addressed to another host than the gateway are forward-proxy requests
/// (HTTP/1 absolute form: the request line names `http://origin/…` and `Host` is the
/// origin); everything else goes on to the gateway's own routes.
struct ForwardProxyMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext
    let handler: GatewayHandler
    let host: String
    let bound: BoundPort

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let authority = request.head.authority, !isGateway(authority) else {
            return try await next(request, context)
        }
        guard request.method == .get else { return GatewayHandler.failure(.methodNotAllowed, "the gateway proxies GET only") }
        return await handler.respond("http://\(authority)\(request.uri.description)")
    }

    /// Whether `authority` names the gateway itself (its address and port, or loopback).
    private func isGateway(_ authority: String) -> Bool {
        guard let port = bound.port.withLock({ $0 }) else { return true }
        let names = [host, "127.0.0.1", "localhost", "[::1]", "0.0.0.0"].map { $0.lowercased() }
        let asked = authority.lowercased()
        return names.contains { asked == "\($0):\(port)" || (port == 80 && asked == $0) }
    }
}

/// The port the gateway listens on, known once it runs.
final class BoundPort: Sendable {
    let port = Mutex<Int?>(nil)
}
