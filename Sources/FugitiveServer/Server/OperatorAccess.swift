import Hummingbird
import HummingbirdCore
import Logging
import NIOCore

/// The request context of the server's HTTP routes: Hummingbird's basic context plus the
/// socket's peer address, which ``OperatorAccess`` needs.
public struct OrchestratorRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.remoteAddress = source.channel.remoteAddress
    }
}

/// Who may read the operator endpoints (`/metrics`, `/v1/stats`, `/v1/graph`,
/// `/dashboard`), which publish peer ids, swarm names and traffic: a caller with the
/// configured bearer token, or — when no token is configured and no proxy is trusted —
/// a caller on loopback. Behind a proxy every caller looks local, so a token is needed.
struct OperatorAccess: Sendable {
    let token: String?
    let loopbackAllowed: Bool

    init(configuration: ServerConfiguration) {
        token = configuration.operatorToken
        loopbackAllowed = configuration.operatorToken == nil && configuration.relay.trustedProxies.isEmpty
    }

    func allows(_ request: Request, context: OrchestratorRequestContext) -> Bool {
        if let token {
            let bearer = request.headers[.authorization].flatMap { value -> Substring? in
                value.hasPrefix("Bearer ") ? value.dropFirst(7) : nil
            }
            let presented = bearer.map(String.init) ?? request.uri.queryParameters.get("token")
            return presented.map { Self.constantTimeEqual($0, token) } ?? false
        }
        guard loopbackAllowed, let address = context.remoteAddress?.ipAddress.flatMap(NetworkAddress.init) else { return false }
        return address.isLoopback
    }

    /// A comparison whose time does not depend on where the strings differ.
    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let (x, y) = (Array(a.utf8), Array(b.utf8))
        guard x.count == y.count else { return false }
        return zip(x, y).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }
}

/// Refuses operator routes to callers ``OperatorAccess`` does not allow (401).
struct OperatorAccessMiddleware: RouterMiddleware {
    typealias Context = OrchestratorRequestContext
    let access: OperatorAccess

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard access.allows(request, context: context) else {
            var headers = HTTPFields()
            headers[.wwwAuthenticate] = "Bearer"
            headers[.contentType] = "text/plain; charset=utf-8"
            return Response(
                status: .unauthorized, headers: headers,
                body: .init(byteBuffer: ByteBuffer(string: "operator endpoint: a bearer token (operatorToken) is required\n")))
        }
        return try await next(request, context)
    }
}
