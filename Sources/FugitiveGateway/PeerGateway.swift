import FugitivePeer
import FugitiveWire
import Hummingbird
import HummingbirdCore
import Logging
import ServiceLifecycle
import Synchronization

/// A local HTTP gateway in front of a native peer, so that any HTTP client can use the
/// swarm: `GET /fetch?url=…` answers with the resource, and plain `http://` requests sent
/// to the gateway as a forward proxy (`curl -x http://127.0.0.1:PORT http://origin/x`)
/// are answered the same way. Responses carry `X-Fugitive-Source` and
/// `X-Fugitive-Digest`; one `Range` is answered 206 (see ``ByteRangeRequest``), so players
/// can seek; failures map to HTTP statuses with a plain-text reason.
///
/// Not an open proxy: by default it fetches only from public addresses (checked after
/// resolution, on every redirect hop, connecting to the checked address), refuses
/// requests a browser makes for another site, answers `/fetch` only under its own names
/// (a DNS-rebound name is refused), and never fetches from itself.
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
        /// Whether origins may be on private, loopback or link-local addresses. Off by
        /// default: a web page could otherwise read the user's internal network through it.
        public var allowPrivateAddresses: Bool
        /// Host names (besides its address, `localhost` and loopback) the gateway answers
        /// `/fetch` under.
        public var names: [String]

        public init(
            host: String = "127.0.0.1", port: Int = 8081, allowedOrigins: [String] = [], deadline: Duration = .seconds(30),
            allowPrivateAddresses: Bool = false, names: [String] = []
        ) {
            self.host = host
            self.port = port
            self.allowedOrigins = allowedOrigins
            self.deadline = deadline
            self.allowPrivateAddresses = allowPrivateAddresses
            self.names = names
        }
    }

    let application: Application<RouterResponder<BasicRequestContext>>

    /// - Parameter onListening: called with the bound port once the gateway listens.
    public init(peer: Peer, configuration: Configuration, logger: Logger, onListening: @escaping @Sendable (Int) -> Void = { _ in }) {
        let handler = GatewayHandler(peer: peer, configuration: configuration)
        let bound = BoundPort()
        let router = Router()
        let identity = GatewayIdentity(host: configuration.host, names: configuration.names, bound: bound)
        router.add(middleware: ForwardProxyMiddleware(handler: handler, identity: identity))
        router.get("/fetch") { request, _ -> Response in
            guard let url = request.uri.queryParameters.get("url") else {
                return GatewayHandler.failure(.badRequest, "give the resource as ?url=…")
            }
            return await handler.respond(url, to: request)
        }
        router.get("/health") { _, _ in "ok" }
        application = Application(
            router: router, server: HTTPServerBuilder { GatewayChannel(responder: $0, idleTimeout: .seconds(30)) },
            configuration: .init(address: .hostname(configuration.host, port: configuration.port)),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                bound.port.withLock { $0 = port }
                onListening(port)
            }, logger: logger)
    }

    public func run() async throws { try await application.run() }
}

/// Requests addressed to another host than the gateway are forward-proxy requests (HTTP/1
/// absolute form: the request line names `http://origin/…`, whose authority
/// ``AbsoluteFormTarget`` made the `Host`); everything else goes on to the gateway's own
/// routes.
struct ForwardProxyMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext
    let handler: GatewayHandler
    let identity: GatewayIdentity

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let authority = request.head.authority, !identity.isGateway(authority) else {
            return try await next(request, context)
        }
        // A request for the gateway's own routes under a foreign name is what a DNS-rebound
        // page sends: refused, not proxied (the proxy path below serves other hosts).
        if request.uri.path == "/fetch" || request.uri.path == "/health" {
            return GatewayHandler.failure(.init(code: 421, reasonPhrase: "Misdirected Request"), "\(authority.prefix(100)) is not this gateway")
        }
        if identity.isSelf(authority) {
            return GatewayHandler.failure(.forbidden, "\(authority.prefix(100)) is this gateway: it does not fetch from itself")
        }
        guard request.method == .get else { return GatewayHandler.failure(.methodNotAllowed, "the gateway proxies GET only") }
        return await handler.respond("http://\(authority)\(request.uri.description)", to: request)
    }
}

/// The names and addresses that mean the gateway itself.
struct GatewayIdentity: Sendable {
    let host: String
    let names: [String]
    let bound: BoundPort

    /// Whether `authority` is one of the gateway's own names with its port: its routes are served.
    func isGateway(_ authority: String) -> Bool {
        guard let port = bound.port.withLock({ $0 }) else { return true }
        let own = ([host, "127.0.0.1", "localhost", "[::1]"] + names).map { $0.lowercased() }
        let asked = authority.lowercased()
        return own.contains { asked == "\($0):\(port)" || (port == 80 && asked == $0) }
    }

    /// Whether `authority` reaches the gateway in any spelling: a loopback or unspecified
    /// address however written (`127.1`, `2130706433`, `[::ffff:127.0.0.1]`, `0`), or its
    /// own address, on its port.
    func isSelf(_ authority: String) -> Bool {
        guard let port = bound.port.withLock({ $0 }) else { return true }
        let (hostPart, portPart) = Self.split(authority)
        guard (portPart ?? 80) == port else { return false }
        if ["localhost"].contains(hostPart.lowercased()) || hostPart.lowercased().hasSuffix(".localhost") { return true }
        guard var address = PublicAddress.literal(hostPart) else { return false }
        if address.count == 16, address[0..<10].allSatisfy({ $0 == 0 }), address[10] == 0xff, address[11] == 0xff { address = Array(address[12...]) }
        let loopback = address.count == 4 ? address[0] == 127 : address == [UInt8](repeating: 0, count: 15) + [1]
        let unspecified = address.allSatisfy { $0 == 0 }
        return loopback || unspecified || PublicAddress.literal(host) == address
    }

    static func split(_ authority: String) -> (host: String, port: Int?) {
        if authority.hasPrefix("["), let close = authority.firstIndex(of: "]") {
            let rest = authority[authority.index(after: close)...]
            return (String(authority[...close]), rest.hasPrefix(":") ? Int(rest.dropFirst()) : nil)
        }
        guard let colon = authority.lastIndex(of: ":") else { return (authority, nil) }
        return (String(authority[..<colon]), Int(authority[authority.index(after: colon)...]))
    }
}

/// The port the gateway listens on, known once it runs.
final class BoundPort: Sendable {
    let port = Mutex<Int?>(nil)
}
