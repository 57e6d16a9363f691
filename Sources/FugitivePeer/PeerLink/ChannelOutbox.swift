import FugitiveRTC
import Synchronization

/// The small messages one side sends on a channel outside a transfer (refusals, `miss`,
/// `busy`, `cancel`, `ping`, `pong`), sent in the order they were queued by one task, and
/// a close that waits for what was queued before it: a refusal then the link's closing
/// error reach the other side in that order, instead of racing each other (one task per
/// message let the close overtake most refusals of a flood on a busy machine).
///
/// At most ``capacity`` wait: beyond that a message is dropped (a peer that floods pings
/// while not reading its pongs costs this bound, not memory).
final class ChannelOutbox: Sendable {
    enum Item {
        case message([UInt8])
        case close
    }

    private final class Count: Sendable {
        let value = Atomic<Int>(0)
    }

    let capacity: Int
    private let sink: AsyncStream<Item>.Continuation
    private let queued = Count()
    private let drain: Task<Void, Never>
    /// The channel it sends on.
    let channel: DataChannel

    init(_ channel: DataChannel, capacity: Int = 1024) {
        self.capacity = capacity
        self.channel = channel
        let (items, sink) = AsyncStream.makeStream(of: Item.self)
        self.sink = sink
        drain = Task { [queued] in
            for await item in items {
                queued.value.subtract(1, ordering: .relaxed)
                switch item {
                case .message(let bytes): try? await channel.send(.binary(bytes))
                case .close:
                    channel.close()
                    sink.finish()
                }
            }
        }
    }

    /// Queues `bytes`; false when dropped (the outbox is full or closed).
    @discardableResult
    func send(_ bytes: [UInt8]) -> Bool {
        guard queued.value.add(1, ordering: .relaxed).newValue <= capacity else {
            queued.value.subtract(1, ordering: .relaxed)
            return false
        }
        if case .enqueued = sink.yield(.message(bytes)) { return true }
        queued.value.subtract(1, ordering: .relaxed)
        return false
    }

    /// Closes the channel once everything queued before has been sent.
    func close() { sink.yield(.close) }

    /// ``close()``, returning once the channel is closed: when what was queued before has
    /// gone, or after `limit` (a peer that does not read cannot hold the close up).
    func closeAndWait(within limit: Duration = .seconds(2)) async {
        close()
        let drain = self.drain
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await drain.value }
            group.addTask { try? await Task.sleep(for: limit) }
            await group.next()
            group.cancelAll()
        }
        channel.close()
    }

    deinit { sink.finish() }
}
