import FugitiveWire
import Logging
import NIOConcurrencyHelpers

/// An orchestrator's side of the cluster: the store, this instance's id, the queue of
/// messages for other instances and what crossed.
final class ClusterLink: Sendable {
    let store: any ClusterStore
    let instance: InstanceID
    let outbox: ClusterOutbox
    let logger: Logger
    private let counters = NIOLockedValueBox((sent: 0, received: 0, instances: 1))

    init(store: any ClusterStore, instance: InstanceID, logger: Logger) {
        self.store = store
        self.instance = instance
        self.outbox = ClusterOutbox()
        self.logger = logger
    }

    func count(sent: Int = 0, received: Int = 0) {
        counters.withLockedValue {
            $0.sent += sent
            $0.received += received
        }
    }

    func record(liveInstances: Int) { counters.withLockedValue { $0.instances = liveInstances } }

    func statistics(remotePartners: Int) -> ClusterStatistics {
        let c = counters.withLockedValue { $0 }
        return ClusterStatistics(
            instance: instance.rawValue, instances: c.instances, remotePartners: remotePartners, messagesSent: c.sent,
            messagesReceived: c.received)
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
