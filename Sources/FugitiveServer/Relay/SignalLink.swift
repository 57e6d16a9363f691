import FugitiveWire
import NIOConcurrencyHelpers
import NIOCore

/// The orchestrator's handle on one peer's connection: messages for the peer are queued
/// here from any thread and written by the connection's event loop, which drains the
/// queue once per turn of the loop — several messages for the same peer in one turn
/// leave in one write and one flush.
final class SignalLink: SessionLink {
    private let queue: NIOLockedValueBox<OutboundQueue>
    private let eventLoop: any EventLoop
    private let handler: NIOLoopBound<SignalHandler>

    init(limit: Int, handler: SignalHandler, eventLoop: any EventLoop) {
        self.queue = NIOLockedValueBox(OutboundQueue(limit: limit))
        self.eventLoop = eventLoop
        self.handler = NIOLoopBound(handler, eventLoop: eventLoop)
    }

    /// Queues a message for the peer; when the queue is full the connection is closed
    /// with `rate-limited` instead.
    @discardableResult
    func send(_ message: ServerMessage) -> Bool {
        let (outcome, action) = queue.withLockedValue { $0.send(message) }
        perform(action)
        return outcome != .overflowed
    }

    /// Sends `error` after what is already queued and closes the connection.
    func close(_ error: WireError) {
        perform(queue.withLockedValue { $0.close(error) })
    }

    /// Whether the queue ended because the peer stopped reading.
    var overflowed: Bool { queue.withLockedValue { $0.overflowed } }

    /// On the event loop: what to write now.
    func drain(writable: Bool) -> [OutboundQueue.Item] {
        queue.withLockedValue { $0.drain(writable: writable) }
    }

    /// On the event loop: the connection is gone; drop what is queued.
    func finish() {
        queue.withLockedValue { $0.finish() }
    }

    private func perform(_ action: OutboundQueue.Action) {
        guard action == .scheduleDrain else { return }
        // Runs after the loop has handled its current batch of reads, so messages for
        // this peer produced by that batch are written together.
        eventLoop.execute { [handler] in handler.value.drainLink() }
    }
}
