import FugitiveServer

/// What the server's live tests call the orchestrator they run against in this process.
public typealias LiveServer = LiveOrchestrator

extension LiveOrchestrator {
    /// Starts a server for the server's own tests: `configure` applied to a test
    /// configuration (port 0, and 127.0.0.1 trusted as a proxy so peers can claim
    /// addresses with X-Forwarded-For).
    public static func startBehindProxy(cluster: (any ClusterStore)? = nil, _ configure: (inout ServerConfiguration) -> Void = { _ in }) async throws
        -> LiveServer
    {
        var configuration = ServerConfiguration()
        configuration.port = 0
        configuration.relay.trustedProxies = ["127.0.0.1"]
        // Behind a trusted proxy loopback proves nothing: the operator endpoints want the token.
        configuration.operatorToken = Self.operatorToken
        configure(&configuration)
        return try await launch(configuration, cluster: cluster)
    }

    /// The operator token test servers are started with.
    public static let operatorToken = "test-operator-token-0123456789"

    /// Runs `body` against a fresh server and stops it afterwards, also on failure.
    public static func with<T>(
        _ configure: (inout ServerConfiguration) -> Void = { _ in }, _ body: (LiveServer) async throws -> T
    ) async throws -> T {
        let server = try await startBehindProxy(configure)
        do {
            let result = try await body(server)
            await server.stop()
            return result
        } catch {
            await server.stop()
            throw error
        }
    }
}

extension LiveOrchestrator {
    /// An orchestrator for the peers' tests: on `host` (127.0.0.1), on a free port or the
    /// one given (to restart it), with room for many holdings per peer.
    public static func start(host: String = "127.0.0.1", port: Int = 0) async throws -> LiveOrchestrator {
        var configuration = ServerConfiguration()
        configuration.host = host
        configuration.port = port
        configuration.orchestrator.holdingsPerPeer = 10_000
        return try await launch(configuration, logLevel: .critical)
    }

    /// The signalling URL peers are given.
    public var url: String { signalURL }
}
