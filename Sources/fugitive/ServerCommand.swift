import ArgumentParser
import Foundation
import FugitivePostgres
import FugitiveServer
import FugitiveWire
import Logging
import Metrics
import Prometheus
import ServiceLifecycle

/// `fugitive server`: runs the orchestrator until SIGINT or SIGTERM.
struct ServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "server",
        abstract: "Run the orchestrator: pairing, signalling relay, holder index, metrics.",
        discussion: "Flags override the configuration file; the file may set any field of ServerConfiguration (JSON, durations in seconds)."
    )

    @Option(help: "JSON configuration file.") var config: String?
    @Option(help: "Address to bind (default 127.0.0.1).") var host: String?
    @Option(help: "Port to bind; 0 picks a free one (default 8080).") var port: Int?
    @Option(help: "Largest message a peer may send, in bytes.") var maxFrameSize: Int?
    @Option(help: "Sustained messages per second per connection.") var messagesPerSecond: Double?
    @Option(help: "Burst of messages above the sustained rate.") var messageBurst: Double?
    @Option(help: "Open connections per IP address.") var connectionsPerIP: Int?
    @Option(help: "Peers per swarm.") var peersPerSwarm: Int?
    @Option(name: .customLong("allow-origin"), help: "An origin the server may fetch to vouch for digests (repeatable).")
    var allowedOrigins: [String] = []
    @Flag(help: "Let allowed origins resolve to private or loopback addresses.") var allowPrivateAddresses = false
    @Option(name: .customLong("ice-server"), help: "A STUN/TURN URL handed to peers, after the file's (repeatable).") var iceServers: [String] = []
    @Option(help: "The username of the --ice-server turn:/turns: URLs.") var iceUsername: String?
    @Option(help: "The credential of the --ice-server turn:/turns: URLs.") var iceCredential: String?
    @Option(name: .customLong("turn-url"), help: "A turn:/turns: URL of a TURN server sharing --turn-secret-file (repeatable).")
    var turnURLs: [String] = []
    @Option(help: "A file holding the secret shared with the TURN server (coturn's static-auth-secret): peers get credentials minted for them.")
    var turnSecretFile: String?
    @Option(help: "Seconds a minted TURN credential is valid (default 43200; renewed at half).") var turnCredentialLifetime: Double?
    @Option(help: "PEM certificate chain for wss://.") var tlsCertificate: String?
    @Option(help: "PEM private key for wss://.") var tlsKey: String?
    @Option(help: "Run as one instance of a cluster sharing this PostgreSQL: postgres://user[:password]@host[:port]/database.")
    var cluster: String?
    @Option(help: "Seconds after which a silent instance counts as dead (default 5).") var instanceExpiry: Double?
    @Option(help: "Seconds between this instance's heartbeats in the cluster (default 1).") var instanceHeartbeat: Double?
    @Option(help: "Bearer token for /metrics, /v1/stats, /v1/graph and /dashboard (default: none, loopback callers only).")
    var operatorToken: String?
    @Option(help: "Open TCP connections in total (default 50000).") var maxConnections: Int?
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.") var logLevel: String = "info"

    func resolvedConfiguration() throws -> ServerConfiguration {
        var c = ServerConfiguration()
        if let config {
            let data = try Data(contentsOf: URL(fileURLWithPath: config))
            do {
                c = try JSONDecoder().decode(ServerConfiguration.self, from: data)
            } catch {
                throw ValidationError("\(config): \(error)")
            }
        }
        if let host { c.host = host }
        if let port { c.port = port }
        if let maxFrameSize { c.relay.maxFrameSize = maxFrameSize }
        if let messagesPerSecond { c.relay.messagesPerSecond = messagesPerSecond }
        if let messageBurst { c.relay.messageBurst = messageBurst }
        if let connectionsPerIP { c.orchestrator.connectionsPerIP = connectionsPerIP }
        if let peersPerSwarm { c.orchestrator.peersPerSwarm = peersPerSwarm }
        if let operatorToken { c.operatorToken = operatorToken }
        if let maxConnections { c.relay.maxConnections = maxConnections }
        if !allowedOrigins.isEmpty { c.vouch.allowedOrigins = allowedOrigins }
        if allowPrivateAddresses { c.vouch.allowPrivateAddresses = true }
        c.orchestrator.iceServers += try Self.iceServers(iceServers, username: iceUsername, credential: iceCredential)
        if !turnURLs.isEmpty { c.orchestrator.turn.urls = turnURLs }
        if let turnSecretFile {
            do {
                let secret = try String(contentsOfFile: turnSecretFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
                c.orchestrator.turn.secret = secret
            } catch {
                throw ValidationError("--turn-secret-file \(turnSecretFile): \(error.localizedDescription)")
            }
        }
        if let turnCredentialLifetime {
            c.orchestrator.turn.lifetime = try Self.duration(turnCredentialLifetime, flag: "--turn-credential-lifetime")
        }
        if let cluster { c.cluster.url = cluster }
        if let instanceExpiry { c.cluster.instanceExpiry = try Self.duration(instanceExpiry, flag: "--instance-expiry") }
        if let instanceHeartbeat { c.cluster.heartbeatInterval = try Self.duration(instanceHeartbeat, flag: "--instance-heartbeat") }
        switch (tlsCertificate, tlsKey) {
        case (let cert?, let key?): c.tls = .init(certificateChain: cert, privateKey: key)
        case (nil, nil): break
        default: throw ValidationError("--tls-certificate and --tls-key go together")
        }
        do {
            try c.validate()
        } catch {
            throw ValidationError(error.description)
        }
        return c
    }

    /// The `--ice-server` URLs: STUN as they are, TURN with the flags' credentials.
    static func iceServers(_ urls: [String], username: String?, credential: String?) throws -> [ICEServer] {
        let turn = urls.filter(ICEServer.isTURN)
        guard turn.isEmpty || (username != nil && credential != nil) else {
            throw ValidationError("--ice-server \(turn[0]) needs --ice-username and --ice-credential")
        }
        let stun = urls.filter { !turn.contains($0) }
        return (stun.isEmpty ? [] : [ICEServer(urls: stun)])
            + (turn.isEmpty ? [] : [ICEServer(urls: turn, username: username, credential: credential)])
    }

    /// A flag's number of seconds.
    static func duration(_ seconds: Double, flag: String) throws -> Duration {
        guard let duration = Duration(configurationSeconds: seconds) else {
            throw ValidationError("\(flag) \(seconds) is not a number of seconds in 0...\(Duration.maxConfigurationSeconds)")
        }
        return duration
    }

    func run() async throws {
        let configuration = try resolvedConfiguration()
        guard let level = Logger.Level(rawValue: logLevel) else { throw ValidationError("unknown log level \(logLevel)") }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "fugitive.server")
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        let scheme = configuration.tls == nil ? "ws" : "wss"
        var store: PostgresClusterStore?
        if let url = configuration.cluster.url {
            do {
                store = PostgresClusterStore(location: try PostgresLocation(url: url), logger: logger)
            } catch {
                throw ValidationError("cluster: \(error)")
            }
        }
        defer { store?.close() }
        let server = try OrchestratorServer(configuration: configuration, registry: registry, cluster: store, logger: logger) { port in
            // Scripts wait for this line; stdout to a file is block-buffered otherwise.
            print("fugitive server listening on \(scheme)://\(configuration.host):\(port)/v1/signal")
            fflush(nil)
        }
        let group = ServiceGroup(
            configuration: .init(
                services: [server], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}
