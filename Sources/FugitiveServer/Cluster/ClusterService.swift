import FugitiveWire
import Logging
import ServiceLifecycle

/// Keeps an instance in its cluster: prepares the store, then until shutdown receives
/// other instances' messages, sends this one's, beats its heartbeat, expires dead
/// instances (and tells partners of their peers) and writes directory changes back.
/// On graceful shutdown the instance retires: its rows go at once, so other instances
/// tell its peers' partners without waiting for the expiry.
public struct ClusterService: Service {
    let orchestrator: Orchestrator
    let configuration: ClusterConfiguration
    let logger: Logger
    let onReady: @Sendable () -> Void

    /// - Parameters:
    ///   - orchestrator: an orchestrator made with a cluster store.
    ///   - onReady: called once the schema is ready, the instance has beaten once and it
    ///     listens for messages: from then on it may take peers.
    public init(orchestrator: Orchestrator, configuration: ClusterConfiguration, logger: Logger, onReady: @escaping @Sendable () -> Void = {}) {
        precondition(orchestrator.cluster != nil, "ClusterService needs an orchestrator made with a cluster store")
        self.orchestrator = orchestrator
        self.configuration = configuration
        self.logger = logger
        self.onReady = onReady
    }

    public func run() async throws {
        let cluster = orchestrator.cluster!
        let (store, instance) = (cluster.store, cluster.instance)
        do {
            try await store.prepare()
            _ = try await store.heartbeat(instance)
        } catch {
            // Without its store an instance cannot be part of the cluster: it must not
            // take peers as if it were alone.
            throw ClusterUnavailable(underlying: String(reflecting: error))
        }
        logger.info("cluster: joined", metadata: ["instance": "\(instance)"])
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await self.receiveLoop(cluster) }
                group.addTask { await self.sendLoop(cluster) }
                group.addTask { await self.every(configuration.heartbeatInterval) { try await self.beat(cluster) } }
                group.addTask { await self.every(configuration.flushInterval) { try await self.flush(cluster) } }
                await group.next()
                group.cancelAll()
            }
        } onGracefulShutdown: {
            cluster.outbox.finish()
        }
        // Whatever the last moments changed, then leave.
        try? await flush(cluster)
        do {
            try await store.retire(instance)
        } catch {
            logger.warning("cluster: could not retire; the instance will expire", metadata: ["error": "\(String(reflecting: error))"])
        }
    }

    private func receiveLoop(_ cluster: ClusterLink) async {
        let (orchestrator, onReady) = (orchestrator, onReady)
        while !Task.isCancelled {
            do {
                try await cluster.store.receive(as: cluster.instance, onReady: { onReady() }) { message in
                    orchestrator.deliver(message.message, from: message.from)
                }
            } catch is CancellationError {
                return
            } catch {
                logger.warning("cluster: receiving failed; listening again", metadata: ["error": "\(String(reflecting: error))"])
            }
            try? await Task.sleep(for: .milliseconds(200))
        }
    }

    private func sendLoop(_ cluster: ClusterLink) async {
        for await _ in cluster.outbox.wakes {
            let batch = cluster.outbox.take()
            guard !batch.isEmpty else { continue }
            do {
                try await cluster.store.send(batch, from: cluster.instance)
                cluster.count(sent: batch.count)
            } catch {
                // Lost like messages on a broken WebSocket: peers time out and ask again.
                cluster.countStoreError()
                logger.warning("cluster: \(batch.count) messages not delivered", metadata: ["error": "\(String(reflecting: error))"])
            }
        }
    }

    private func beat(_ cluster: ClusterLink) async throws {
        if try await cluster.store.heartbeat(cluster.instance) {
            logger.warning("cluster: this instance had expired; writing its directory again")
            orchestrator.resynchronize()
        }
        let alive = try await cluster.store.expireInstances(silentFor: configuration.instanceExpiry)
        orchestrator.instancesAlive(alive)
    }

    private func flush(_ cluster: ClusterLink) async throws {
        let changes = orchestrator.drainDirectoryChanges()
        guard !changes.isEmpty else { return }
        do {
            try await cluster.store.apply(changes, from: cluster.instance)
        } catch {
            // A partial write cannot be told from none: write everything next time.
            orchestrator.resynchronize()
            throw error
        }
    }

    private func every(_ interval: Duration, _ work: @Sendable () async throws -> Void) async {
        while !Task.isCancelled {
            do {
                try await work()
            } catch is CancellationError {
                return
            } catch {
                orchestrator.cluster?.countStoreError()
                logger.warning("cluster: store unavailable", metadata: ["error": "\(String(reflecting: error))"])
            }
            try? await Task.sleep(for: interval)
        }
    }
}

/// The cluster's store could not be prepared when the instance started.
public struct ClusterUnavailable: Error, CustomStringConvertible {
    public let underlying: String
    public var description: String { "the cluster's store is unreachable or refused to prepare its schema: \(underlying)" }
}
