import FugitiveWire
import Logging
import Metrics
import NIOConcurrencyHelpers

/// An orchestrator's side of the cluster: the store, this instance's id, the queue of
/// messages for other instances, the bound on store lookups peers can cause, and what
/// crossed.
final class ClusterLink: Sendable {
    let store: any ClusterStore
    let instance: InstanceID
    let outbox: ClusterOutbox
    let logger: Logger
    /// Store lookups peers' messages may have under way at once (remote partners, remote
    /// holders); beyond it a want is answered from this instance only, so a flood of
    /// wants cannot turn into a flood of queries.
    static let maxLookups = 64
    private let counters = NIOLockedValueBox(Counters())
    private let metrics: Metrics

    struct Counters {
        var sent = 0
        var received = 0
        var instances = 1
        var lookups = 0
        var lookupsShed = 0
        var storeErrors = 0
    }

    struct Metrics: Sendable {
        let sent: Counter
        let received: Counter
        let shed: Counter
        let storeErrors: Counter
        let instances: Gauge
    }

    init(store: any ClusterStore, instance: InstanceID, metricsFactory: any MetricsFactory, logger: Logger) {
        self.store = store
        self.instance = instance
        self.outbox = ClusterOutbox()
        self.logger = logger
        metrics = Metrics(
            sent: Counter(label: "fugitive_cluster_messages_sent_total", factory: metricsFactory),
            received: Counter(label: "fugitive_cluster_messages_received_total", factory: metricsFactory),
            shed: Counter(label: "fugitive_cluster_lookups_shed_total", factory: metricsFactory),
            storeErrors: Counter(label: "fugitive_cluster_store_errors_total", factory: metricsFactory),
            instances: Gauge(label: "fugitive_cluster_instances", factory: metricsFactory))
    }

    func count(sent: Int = 0, received: Int = 0) {
        counters.withLockedValue {
            $0.sent += sent
            $0.received += received
        }
        if sent > 0 { metrics.sent.increment(by: sent) }
        if received > 0 { metrics.received.increment(by: received) }
    }

    /// A store operation failed (logged by the caller).
    func countStoreError() {
        counters.withLockedValue { $0.storeErrors += 1 }
        metrics.storeErrors.increment()
    }

    func record(liveInstances: Int) {
        counters.withLockedValue { $0.instances = liveInstances }
        metrics.instances.record(liveInstances)
    }

    /// Takes a lookup slot; `false` (and counted) when all are in use.
    func beginLookup() -> Bool {
        let taken = counters.withLockedValue { counters -> Bool in
            guard counters.lookups < Self.maxLookups else {
                counters.lookupsShed += 1
                return false
            }
            counters.lookups += 1
            return true
        }
        if !taken { metrics.shed.increment() }
        return taken
    }

    func endLookup() { counters.withLockedValue { $0.lookups -= 1 } }

    func statistics(remotePartners: Int) -> ClusterStatistics {
        let c = counters.withLockedValue { $0 }
        return ClusterStatistics(
            instance: instance.rawValue, instances: c.instances, remotePartners: remotePartners, messagesSent: c.sent,
            messagesReceived: c.received, lookupsShed: c.lookupsShed, storeErrors: c.storeErrors)
    }
}

/// Messages for other instances, in order, from any thread to the one task that sends
/// them: whatever accumulated while a send was under way leaves in the next batch.
final class ClusterOutbox: Sendable {
    private let queue = NIOLockedValueBox<[(to: InstanceID, message: ClusterMessage)]>([])
    private let wake: AsyncStream<Void>.Continuation
    let wakes: AsyncStream<Void>

    init() {
        (wakes, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    func enqueue(_ messages: [(to: InstanceID, message: ClusterMessage)]) {
        guard !messages.isEmpty else { return }
        queue.withLockedValue { $0 += messages }
        wake.yield()
    }

    /// Everything queued so far.
    func take() -> [(to: InstanceID, message: ClusterMessage)] {
        queue.withLockedValue { queued in
            defer { queued.removeAll(keepingCapacity: true) }
            return queued
        }
    }

    func finish() { wake.finish() }
}
