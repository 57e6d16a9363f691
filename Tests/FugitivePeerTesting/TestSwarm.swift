import Foundation
import FugitivePeer
import FugitiveStore
import FugitiveTestSupport
import FugitiveWire
import Logging
import Testing

/// Native peers over real WebRTC on loopback, joined through a real orchestrator.
public final class RunningPeer: Sendable {
    public let peer: Peer
    public let task: Task<Void, Never>
    public let storePath: String

    public init(_ peer: Peer, storePath: String) {
        self.peer = peer
        self.storePath = storePath
        task = Task { try? await peer.run() }
    }

    public func stop() async {
        task.cancel()
        await task.value
    }
}

/// Starting native peers for tests, and waiting for what they do.
public enum TestSwarm {
    public static var logger: Logger {
        var logger = Logger(label: "test.peer")
        logger.logLevel = .critical
        return logger
    }

    public static func storePath() -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fugitive-peer-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory.appendingPathComponent("store.sqlite").path
    }

    public static func configuration(server: String, storePath: String, targetLinks: Int = 2) -> Peer.Configuration {
        Peer.Configuration(
            servers: [server], swarm: "test-swarm", targetLinks: targetLinks, maxLinks: 4,
            store: .init(memoryBytes: 16 << 20, diskBytes: 256 << 20, path: storePath), peerPhase: .seconds(5), stallTimeout: .seconds(2),
            connectTimeout: .seconds(10), backoffBase: .milliseconds(100), backoffCap: .seconds(2), localAddresses: ["127.0.0.1"],
            maintenanceInterval: .milliseconds(200), rttInterval: .seconds(2))
    }

    public static func start(
        server: String, storePath: String = storePath(), targetLinks: Int = 2, lying: Bool = false,
        fault: UploadFault = .none, adjust: (inout Peer.Configuration) -> Void = { _ in }
    ) throws -> RunningPeer {
        var configuration = configuration(server: server, storePath: storePath, targetLinks: targetLinks)
        adjust(&configuration)
        return RunningPeer(
            try Peer(configuration: configuration, logger: logger, uploadFaultForTesting: lying ? UploadFault(corrupts: true) : fault),
            storePath: storePath)
    }

    /// Waits until every peer has at least `links` open links.
    public static func waitForLinks(_ peers: [RunningPeer], atLeast links: Int, within limit: Duration = .seconds(40)) async throws {
        let deadline = ContinuousClock.now + limit
        while peers.contains(where: { $0.peer.linkedPeers.count < links }) {
            guard ContinuousClock.now < deadline else {
                throw TestFailure("links: \(peers.map { $0.peer.linkedPeers.count }), wanted \(links) each")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Waits until `condition` holds.
    public static func wait(_ what: String, within limit: Duration = .seconds(20), _ condition: () throws -> Bool) async throws {
        let deadline = ContinuousClock.now + limit
        while try !condition() {
            guard ContinuousClock.now < deadline else { throw TestFailure("timed out waiting for \(what)") }
            try await Task.sleep(for: .milliseconds(25))
        }
    }

    public static func bytes(_ count: Int, seed: UInt8) -> [UInt8] {
        var state = UInt64(seed) &+ 0x9E37_79B9_7F4A_7C15
        return (0..<count).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return UInt8(truncatingIfNeeded: state >> 33)
        }
    }

    public static func text(_ count: Int) -> [UInt8] {
        Array(String(repeating: "Fugitive shares what its peers already hold. ", count: count / 45 + 1).utf8.prefix(count))
    }
}
