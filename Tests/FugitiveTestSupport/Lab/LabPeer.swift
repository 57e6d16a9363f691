import Foundation
import FugitiveLab
import FugitiveTestSupport

/// A `fugitive peer` (the release build under `make test`) on a lab host, and the JSON
/// events it prints.
public final class LabPeer: Sendable {
    public let host: InternetLab.Host
    private let peer: PeerProcess

    /// Starts the peer in `host`'s namespace; it joins `swarm` at `server` and fetches `fetches` once it runs.
    public init(in lab: InternetLab, on host: InternetLab.Host, server: String, swarm: String, fetches: [String] = [], extra: [String] = []) throws {
        self.host = host
        peer = try PeerProcess(
            lab.process(
                in: host.namespace, Binaries.fugitive.path, PeerProcess.arguments(server: server, swarm: swarm, fetches: fetches, extra: extra)))
    }

    public var events: [[String: String]] { peer.events }
    public var errors: String { peer.errors }

    /// The first event named `name` that `matches`, waiting up to `timeout` for it.
    public func event(
        _ name: String, within timeout: Duration, where matches: @Sendable ([String: String]) -> Bool = { _ in true }
    ) async throws -> [String: String] {
        try await peer.event(name, within: timeout, describedAs: "\(host)", where: matches)
    }

    /// This peer's id, once it has joined.
    public func id(within timeout: Duration = .seconds(10)) async throws -> String { try await peer.id(within: timeout) }

    public var isRunning: Bool { peer.isRunning }

    public func stop() { peer.stop() }
}
