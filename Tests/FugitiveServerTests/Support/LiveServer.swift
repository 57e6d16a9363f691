import FugitiveServer
import FugitiveServerTesting

/// The server's live tests run against a real orchestrator in this process.
typealias LiveServer = LiveOrchestrator

extension LiveOrchestrator {
    /// Starts a server with `configure` applied to a test configuration (port 0, and
    /// 127.0.0.1 trusted as a proxy so peers can claim addresses with X-Forwarded-For).
    static func start(cluster: (any ClusterStore)? = nil, _ configure: (inout ServerConfiguration) -> Void = { _ in }) async throws -> LiveServer {
        var configuration = ServerConfiguration()
        configuration.port = 0
        configuration.relay.trustedProxies = ["127.0.0.1"]
        // Behind a trusted proxy loopback proves nothing: the operator endpoints want the token.
        configuration.operatorToken = Self.operatorToken
        configure(&configuration)
        return try await launch(configuration, cluster: cluster)
    }

    /// The operator token test servers are started with.
    static let operatorToken = "test-operator-token-0123456789"

    /// Runs `body` against a fresh server and stops it afterwards, also on failure.
    static func with<T>(
        _ configure: (inout ServerConfiguration) -> Void = { _ in }, _ body: (LiveServer) async throws -> T
    ) async throws -> T {
        let server = try await start(configure)
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

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
