import ArgumentParser
import Foundation
import FugitiveGateway
import FugitivePeer
import FugitiveStore
import FugitiveWire
import Logging
import ServiceLifecycle

/// `fugitive peer`: a native peer that joins a swarm, serves what it holds, fetches the
/// URLs it is given, and prints what happens as JSON lines until SIGINT or SIGTERM.
struct PeerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "peer",
        abstract: "Run a native peer: join a swarm, share what it holds, fetch URLs.",
        discussion: "Every event is printed as one JSON object per line on standard output."
    )

    @Option(name: .customLong("server"), help: "ws(s)://host:port/v1/signal of an orchestrator (repeatable: fail-over).") var servers: [String]
    @Option(help: "The swarm to join (e.g. the origin the resources come from).") var swarm: String
    @Option(name: .customLong("join-token"), help: "A join token (JWT) for a swarm the orchestrator admits by token.") var joinToken: String?
    @Option(help: "Directory (or SQLite file) of the persistent store (default: in memory).") var store: String?
    @Option(help: "Bytes kept in memory.") var memoryBytes = 64 << 20
    @Option(help: "Bytes kept in the persistent store.") var diskBytes = 1 << 30
    @Flag(help: "When the store cannot be opened, move it aside and start with an empty one.") var resetDamagedStore = false
    @Option(help: "Links to keep.") var targetLinks = 4
    @Option(help: "Most links to accept.") var maxLinks = 8
    @Option(name: .customLong("local-address"), help: "Local address ICE may use (repeatable; default: all).") var localAddresses: [String] = []
    @Option(help: "Upload limit, bytes per second.") var uploadRate: Int?
    @Option(help: "Download limit, bytes per second.") var downloadRate: Int?
    @Option(name: .customLong("fetch"), help: "A URL to fetch once the peer runs (repeatable).") var fetches: [String] = []
    @Option(help: "Serve a local HTTP gateway at HOST:PORT (GET /fetch?url=…, and a forward proxy for http:// URLs).") var gateway: String?
    @Option(name: .customLong("gateway-allow-origin"), help: "An origin the gateway serves (repeatable; default: any public one).")
    var gatewayOrigins: [String] = []
    @Flag(
        name: .customLong("gateway-allow-private"),
        help: "Let the gateway fetch from private, loopback and link-local addresses (off: a web page could read your network through it).")
    var gatewayAllowPrivate = false
    @Option(help: "Log level on standard error.") var logLevel: String = "warning"

    func run() async throws {
        guard let level = Logger.Level(rawValue: logLevel) else { throw ValidationError("unknown log level \(logLevel)") }
        guard !servers.isEmpty else { throw ValidationError("give at least one --server") }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "fugitive.peer")
        var configuration = Peer.Configuration(
            servers: servers, swarm: swarm, targetLinks: targetLinks, maxLinks: maxLinks,
            store: ResourceStore.Configuration(memoryBytes: memoryBytes, diskBytes: diskBytes, path: Self.storeFile(store)),
            uploadBytesPerSecond: uploadRate,
            downloadBytesPerSecond: downloadRate, localAddresses: localAddresses)
        configuration.joinToken = joinToken
        let peer: Peer
        peer = try Self.openPeer(configuration, logger: logger, command: "peer", resetDamagedStore: resetDamagedStore)
        let printer = Task {
            for await event in peer.events { Self.print(Self.fields(of: event)) }
        }
        let fetcher = Task {
            for url in fetches {
                do {
                    let resource = try await peer.fetch(url)
                    Self.print([
                        "event": "fetch-done", "url": url, "source": resource.source.kind, "bytes": "\(resource.bytes.count)",
                        "digest": resource.digest.hex, "ms": "\(Int(resource.timings.total.milliseconds))",
                    ])
                } catch {
                    Self.print(["event": "fetch-failed", "url": url, "error": "\(error)"])
                }
            }
        }
        var services: [any Service] = [peer]
        if let gateway {
            guard let colon = gateway.lastIndex(of: ":"), let port = Int(gateway[gateway.index(after: colon)...]) else {
                throw ValidationError("--gateway wants HOST:PORT")
            }
            let configuration = PeerGateway.Configuration(
                host: String(gateway[..<colon]), port: port, allowedOrigins: gatewayOrigins, allowPrivateAddresses: gatewayAllowPrivate)
            services.append(
                PeerGateway(peer: peer, configuration: configuration, logger: logger) { bound in
                    Self.print(["event": "gateway", "url": "http://\(configuration.host):\(bound)"])
                })
        }
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        fetcher.cancel()
        await printer.value
    }

    /// A directory means `DIR/store.sqlite` (created if needed); anything else is the file.
    static func storeFile(_ path: String?) -> String? {
        guard let path else { return nil }
        var isDirectory: ObjCBool = false
        if path.hasSuffix("/") || (FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue) {
            try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            return URL(fileURLWithPath: path).appendingPathComponent("store.sqlite").path
        }
        return path
    }

    static func fields(of event: PeerEvent) -> [String: String] {
        switch event {
        case .joined(let id, let server): ["event": "joined", "id": id.rawValue, "server": server]
        case .leftServer(let reason): ["event": "left-server", "reason": reason]
        case .linked(let peer, let rtt, let route, let setup):
            [
                "event": "linked", "peer": peer.rawValue, "rttMs": rtt.map { "\($0.milliseconds)" } ?? "",
                "route": route.map { $0.isRelayed ? "relayed" : "direct" } ?? "", "setupMs": "\(setup.milliseconds)",
            ]
        case .unlinked(let peer, let reason): ["event": "unlinked", "peer": peer.rawValue, "reason": reason]
        case .fetched(let url, let source, let bytes, let duration):
            ["event": "fetched", "url": url, "source": source.description, "bytes": "\(bytes)", "ms": "\(Int(duration.milliseconds))"]
        case .served(let peer, let digest, let bytes, let wire, let relayed):
            ["event": "served", "peer": peer.rawValue, "digest": digest.hex, "bytes": "\(bytes)", "wireBytes": "\(wire)", "relayed": "\(relayed)"]
        case .penalised(let peer, let reason): ["event": "penalised", "peer": peer.rawValue, "reason": reason]
        }
    }

    /// One JSON object per line, flushed: scripts and tests wait for lines.
    static func print(_ fields: [String: String]) {
        guard let data = try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys]) else { return }
        Swift.print(String(decoding: data, as: UTF8.self))
        fflush(nil)
    }
}

extension PeerCommand {
    /// Creates the peer. A store that cannot be opened is a runtime error with a clear
    /// message (not a usage error); with `resetDamagedStore` it is moved aside first and
    /// a fresh one created.
    static func openPeer(_ configuration: Peer.Configuration, logger: Logger, command: String, resetDamagedStore: Bool) throws -> Peer {
        let failure: StoreError
        do {
            return try Peer(configuration: configuration, logger: logger)
        } catch {
            failure = error
        }
        guard failure.code == .openFailed, let path = configuration.store.path else { throw failure }
        guard resetDamagedStore else {
            let advice = "(start with --reset-damaged-store to move it aside and begin with an empty store)"
            FileHandle.standardError.write(Data("fugitive \(command): \(failure.message)\n\(advice)\n".utf8))
            throw ExitCode(1)
        }
        let aside = try ResourceStore.moveAside(path)
        logger.warning("the store could not be opened; moved aside, starting empty", metadata: ["store": "\(path)", "moved-to": "\(aside)"])
        return try Peer(configuration: configuration, logger: logger)
    }
}
