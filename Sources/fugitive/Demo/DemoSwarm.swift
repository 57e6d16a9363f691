import FugitivePeer
import FugitiveStore
import Logging
import Synchronization

/// The demo's native peers: each starts after its predecessor (staggered), waits for a
/// first link, then fetches the whole catalogue; every fetch is recorded.
final class DemoSwarm: Sendable {
    struct Record: Sendable {
        var peer: Int
        /// `memory`, `disk`, `peer`, `origin`, or `failed`.
        var source: String
        var bytes: Int
        var millis: Double
    }

    struct Snapshot: Sendable {
        var fetched: [Int]
        var links: [Int]
        var peerBytes = 0
        var originBytes = 0
        var failures = 0
    }

    private struct State {
        var peers: [Int: Peer] = [:]
        var tasks: [Task<Void, Never>] = []
        var records: [Record] = []
    }

    let count: Int
    let signalURL: String
    let swarmKey: String
    let logger: Logger
    private let state = Mutex(State())

    init(count: Int, signalURL: String, swarmKey: String, logger: Logger) {
        self.count = count
        self.signalURL = signalURL
        self.swarmKey = swarmKey
        self.logger = logger
    }

    func run(catalogue: DemoCatalogue, originURL: String, stagger: Duration) async {
        await withTaskGroup(of: Void.self) { group in
            for index in 0..<count {
                group.addTask { await self.runPeer(index, catalogue: catalogue, originURL: originURL, after: stagger * index) }
            }
        }
    }

    private func runPeer(_ index: Int, catalogue: DemoCatalogue, originURL: String, after delay: Duration) async {
        try? await Task.sleep(for: delay)
        let configuration = Peer.Configuration(
            servers: [signalURL], swarm: swarmKey, targetLinks: min(4, count - 1), maxLinks: 8,
            store: ResourceStore.Configuration(memoryBytes: 256 << 20, diskBytes: 1 << 30, path: nil), localAddresses: ["127.0.0.1"])
        let peer: Peer
        do { peer = try Peer(configuration: configuration, logger: logger) } catch {
            state.withLock { state in
                state.records += catalogue.items.map { Record(peer: index, source: "failed", bytes: $0.body.count, millis: 0) }
            }
            return
        }
        let task = Task { _ = try? await peer.run() }
        state.withLock {
            $0.peers[index] = peer
            $0.tasks.append(task)
        }
        // A newcomer gets its first link before asking (the first peer has nobody to ask).
        if index > 0 {
            let deadline = ContinuousClock.now + .seconds(5)
            while peer.linkedPeers.isEmpty, ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        }
        for item in catalogue.items {
            let started = ContinuousClock.now
            let record: Record
            do {
                let resource = try await peer.fetch(originURL + item.path, deadline: .seconds(60))
                let millis = (ContinuousClock.now - started).milliseconds
                record = Record(
                    peer: index, source: resource.bytes == item.body ? resource.source.kind : "failed", bytes: item.body.count, millis: millis)
            } catch {
                logger.error("fetch failed", metadata: ["peer": "\(index)", "path": "\(item.path)", "error": "\(error)"])
                record = Record(peer: index, source: "failed", bytes: item.body.count, millis: (ContinuousClock.now - started).milliseconds)
            }
            state.withLock { $0.records.append(record) }
        }
    }

    func finished(resources: Int) -> Bool { state.withLock { $0.records.count >= count * resources } }

    func records() -> [Record] { state.withLock { $0.records } }

    /// Open links over all peers (each link counted at both ends, so halved).
    func linkCount() -> Int { state.withLock { $0.peers.values.reduce(0) { $0 + $1.linkedPeers.count } } / 2 }

    func snapshot() -> Snapshot {
        state.withLock { state in
            var snapshot = Snapshot(fetched: Array(repeating: 0, count: count), links: Array(repeating: 0, count: count))
            for (index, peer) in state.peers { snapshot.links[index] = peer.linkedPeers.count }
            for record in state.records {
                snapshot.fetched[record.peer] += 1
                switch record.source {
                case "peer": snapshot.peerBytes += record.bytes
                case "origin": snapshot.originBytes += record.bytes
                case "failed": snapshot.failures += 1
                default: break
                }
            }
            return snapshot
        }
    }

    func stop() async {
        let tasks = state.withLock { $0.tasks }
        for task in tasks { task.cancel() }
        for task in tasks { await task.value }
    }
}
