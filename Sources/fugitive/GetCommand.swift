import ArgumentParser
import Foundation
import FugitivePeer
import FugitiveStore
import FugitiveWire
import Logging
import ServiceLifecycle
import Synchronization

/// `fugitive get URL`: one fetch through the swarm — a peer joins, fetches, writes the
/// bytes, and says where they came from.
struct GetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "get", abstract: "Fetch one resource through the swarm (store, peers, origin).")

    @Argument(help: "The resource's absolute http(s) URL.") var url: String
    @Option(name: .customLong("server"), help: "ws(s)://host:port/v1/signal of an orchestrator (repeatable).") var servers: [String] = []
    @Option(help: "The swarm (default: the URL's origin).") var swarm: String?
    @Option(name: .customLong("join-token"), help: "A join token (JWT) for a swarm the orchestrator admits by token.") var joinToken: String?
    @Option(help: "The SHA-256 the bytes must have: sha256:<hex> or <hex>.") var digest: String?
    @Option(name: .shortAndLong, help: "Write the bytes to this file (default: standard output).") var output: String?
    @Option(help: "Directory (or SQLite file) of a persistent store to use.") var store: String?
    @Flag(help: "When the store cannot be opened, move it aside and start with an empty one.") var resetDamagedStore = false
    @Option(help: "Seconds the fetch may take.") var timeout: Double = 30
    @Option(help: "Seconds to wait for a first link before fetching (peers need one).") var linkWait: Double = 3
    @Option(name: .customLong("local-address"), help: "Local address ICE may use (repeatable).") var localAddresses: [String] = []

    func run() async throws {
        guard let origin = Peer.origin(of: url) else { throw ValidationError("\(url) is not an absolute http(s) URL") }
        let expected: ResourceDigest?
        if let digest {
            guard let parsed = ResourceDigest(digest.hasPrefix("sha256:") ? String(digest.dropFirst(7)) : digest) else {
                throw ValidationError("--digest wants sha256:<64 hex digits>")
            }
            expected = parsed
        } else {
            expected = nil
        }
        var logger = Logger(label: "fugitive.get")
        logger.logLevel = .error
        var configuration = Peer.Configuration(
            servers: servers.isEmpty ? ["ws://127.0.0.1:8080/v1/signal"] : servers, swarm: swarm ?? origin, targetLinks: 2, maxLinks: 4,
            store: ResourceStore.Configuration(path: PeerCommand.storeFile(store)), localAddresses: localAddresses)
        configuration.joinToken = joinToken
        let peer = try PeerCommand.openPeer(configuration, logger: logger, command: "get", resetDamagedStore: resetDamagedStore)
        let running = Task { try? await peer.run() }
        defer { running.cancel() }
        // Links closed and the store checkpointed before the process exits: exiting while
        // the connections' threads still run crashed a loaded run (status 11).
        func stopPeer() async {
            running.cancel()
            await running.value
        }
        let status = StatusLine(enabled: isatty(STDERR_FILENO) == 1)
        let waitUntil = ContinuousClock.now + .milliseconds(Int(linkWait * 1000))
        while !servers.isEmpty, peer.linkedPeers.isEmpty, ContinuousClock.now < waitUntil {
            status.show("joining the swarm…")
            try await Task.sleep(for: .milliseconds(50))
        }
        let started = ContinuousClock.now
        let progress = ProgressState()
        let ticker = Task {
            while !Task.isCancelled {
                let elapsed = String(format: "%.1f s", (ContinuousClock.now - started).seconds)
                if let report = progress.latest.withLock({ $0 }) {
                    status.show("\(StatusLine.bar(report))  from \(report.source == "peer" ? "a peer" : "the origin")  \(elapsed)")
                } else {
                    status.show("looking for \(url)  \(elapsed)  (links: \(peer.linkedPeers.count))")
                }
                try? await Task.sleep(for: .milliseconds(100))
            }
        }
        let resource: Resource
        do {
            resource = try await peer.fetch(url, digest: expected, deadline: .milliseconds(Int(timeout * 1000))) { report in
                progress.latest.withLock { $0 = report }
            }
            ticker.cancel()
        } catch {
            ticker.cancel()
            status.clear()
            FileHandle.standardError.write(Data("fugitive get: \(error)\n".utf8))
            await stopPeer()
            throw ExitCode(1)
        }
        status.clear()
        if let output {
            try Data(resource.bytes).write(to: URL(fileURLWithPath: output))
        } else {
            FileHandle.standardOutput.write(Data(resource.bytes))
        }
        let summary =
            "source: \(resource.source) — \(resource.bytes.count) bytes in \(String(format: "%.1f", resource.timings.total.milliseconds)) ms, \(resource.digest)\n"
        FileHandle.standardError.write(Data(summary.utf8))
        await stopPeer()
    }
}

/// The newest progress report of the fetch.
final class ProgressState: Sendable {
    let latest = Mutex<FetchProgress.Report?>(nil)
}

/// One status line on a terminal's standard error, rewritten in place.
struct StatusLine: Sendable {
    let enabled: Bool
    func show(_ text: String) {
        guard enabled else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[2K\(text)".utf8))
    }
    /// `[█████░░░░░] 48%  1.2/2.5 MB`, or the bytes alone when the total is unknown.
    static func bar(_ report: FetchProgress.Report) -> String {
        let received = String(format: "%.1f", Double(report.receivedBytes) / 1e6)
        guard let total = report.totalBytes, total > 0 else { return "\(received) MB" }
        let filled = min(30, report.receivedBytes * 30 / total)
        let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: 30 - filled)
        return "[\(bar)] \(min(100, report.receivedBytes * 100 / total))%  \(received)/\(String(format: "%.1f", Double(total) / 1e6)) MB"
    }

    func clear() {
        guard enabled else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[2K".utf8))
    }
}
