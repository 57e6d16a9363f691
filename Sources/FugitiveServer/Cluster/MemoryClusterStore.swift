import Foundation
import FugitiveWire
import NIOConcurrencyHelpers

/// A ``ClusterStore`` in this process's memory: several orchestrator instances in one
/// process share one, as they would share a database. It is the reference the PostgreSQL
/// store is tested against, and lets the cluster's logic run in tests without a server.
public final class MemoryClusterStore: ClusterStore {
    struct State {
        var heartbeats: [InstanceID: ContinuousClock.Instant] = [:]
        var peers: [PeerID: PeerRecord] = [:]
        var holdings: [PeerID: [ResourceDigest: Holding]] = [:]
        var digests: [String: RegisteredDigest] = [:]
        var mailboxes: [InstanceID: AsyncStream<ClusterEnvelope>.Continuation] = [:]
        var expiry: Duration = .seconds(5)
        var sequence: UInt64 = 0

        func alive(_ instance: InstanceID, now: ContinuousClock.Instant) -> Bool {
            heartbeats[instance].map { now - $0 <= expiry } ?? false
        }

        mutating func delete(instance: InstanceID) {
            heartbeats[instance] = nil
            for (id, record) in peers where record.instance == instance {
                peers[id] = nil
                holdings[id] = nil
            }
        }
    }

    private let state = NIOLockedValueBox(State())

    public init() {}

    public func prepare() async throws {}

    public func heartbeat(_ instance: InstanceID) async throws -> Bool {
        state.withLockedValue { $0.heartbeats.updateValue(.now, forKey: instance) == nil }
    }

    public func expireInstances(silentFor expiry: Duration) async throws -> Set<InstanceID> {
        state.withLockedValue { state in
            state.expiry = expiry
            let now = ContinuousClock.now
            for instance in state.heartbeats.keys where !state.alive(instance, now: now) { state.delete(instance: instance) }
            return Set(state.heartbeats.keys)
        }
    }

    public func retire(_ instance: InstanceID) async throws {
        state.withLockedValue { $0.delete(instance: instance) }
    }

    public func apply(_ changes: DirectoryChanges, from instance: InstanceID) async throws {
        state.withLockedValue { state in
            for id in changes.removed where state.peers[id]?.instance == instance {
                state.peers[id] = nil
                state.holdings[id] = nil
            }
            for record in changes.upserted where record.supersedes(state.peers[record.id]) { state.peers[record.id] = record }
            // Holdings only of rows the writer holds: an old owner's late flush changes nothing.
            for (id, added) in changes.holdingsAdded where state.peers[id]?.instance == instance {
                for holding in added { state.holdings[id, default: [:]][holding.digest] = holding }
            }
            for (id, removed) in changes.holdingsRemoved where state.peers[id]?.instance == instance {
                for digest in removed { state.holdings[id]?[digest] = nil }
            }
        }
    }

    public func openPeers(swarm: String, near address: String?, excluding: InstanceID, skipping: Set<PeerID>, limit: Int) async throws -> [PeerRecord]
    {
        state.withLockedValue { state in
            let now = ContinuousClock.now
            let keys = address.flatMap(NetworkAddress.init)?.networkKeys
            let open = state.peers.values.filter {
                $0.swarm == swarm && $0.live && $0.freeSlots > 0 && $0.instance != excluding && !skipping.contains($0.id)
                    && state.alive($0.instance, now: now)
            }
            func rank(_ record: PeerRecord) -> (Int, Int) {
                guard let keys, let theirs = record.networkKeys else { return (0, record.freeSlots) }
                return (theirs.near == keys.near ? 2 : theirs.mid == keys.mid ? 1 : 0, record.freeSlots)
            }
            return Array(open.sorted { rank($0) != rank($1) ? rank($0) > rank($1) : $0.id.rawValue < $1.id.rawValue }.prefix(limit))
        }
    }

    public func holders(swarm: String, digest: ResourceDigest?, url: String?, excluding: InstanceID, limit: Int) async throws -> (
        digest: ResourceDigest?, peers: [PeerRecord]
    ) {
        state.withLockedValue { state in
            let now = ContinuousClock.now
            let snapshot = state
            let live = snapshot.peers.values.filter { $0.swarm == swarm && $0.live && snapshot.alive($0.instance, now: now) }
            var resolved = digest
            if resolved == nil, let url {
                resolved = live.lazy.compactMap { snapshot.holdings[$0.id]?.values.first(where: { $0.url == url })?.digest }.first
            }
            guard let resolved else { return (nil, []) }
            let holders = live.filter { $0.instance != excluding && snapshot.holdings[$0.id]?[resolved] != nil }
            return (resolved, Array(holders.sorted { $0.id.rawValue < $1.id.rawValue }.prefix(limit)))
        }
    }

    public func session(resumeToken: String, swarm: String, excluding: InstanceID) async throws -> StoredSession? {
        state.withLockedValue { state in
            guard let record = state.peers.values.first(where: { $0.resumeToken == resumeToken && $0.swarm == swarm }),
                record.instance != excluding, state.alive(record.instance, now: .now)
            else { return nil }
            return StoredSession(record: record, holdings: Array(state.holdings[record.id]?.values ?? [:].values))
        }
    }

    public func registeredDigest(for url: String) async throws -> RegisteredDigest? {
        state.withLockedValue { state in
            state.digests[url].flatMap { $0.expiresAt > Date().timeIntervalSince1970 ? $0 : nil }
        }
    }

    public func register(_ digest: RegisteredDigest, for url: String) async throws {
        state.withLockedValue { $0.digests[url] = digest }
    }

    public func send(_ messages: [(to: InstanceID, message: ClusterMessage)], from sender: InstanceID) async throws {
        guard !messages.isEmpty else { return }
        state.withLockedValue { state in
            for (to, message) in messages {
                state.sequence += 1
                _ = state.mailboxes[to]?.yield(ClusterEnvelope(from: sender, sequence: state.sequence, message: message))
            }
        }
    }

    public func receive(as instance: InstanceID, onReady: @Sendable () async -> Void, _ handle: @Sendable (ClusterEnvelope) async -> Void)
        async throws
    {
        let (stream, continuation) = AsyncStream.makeStream(of: ClusterEnvelope.self)
        state.withLockedValue { $0.mailboxes[instance] = continuation }
        defer { state.withLockedValue { $0.mailboxes[instance] = nil } }
        await onReady()
        for await envelope in stream {
            await handle(envelope)
        }
        try Task.checkCancellation()
    }
}
