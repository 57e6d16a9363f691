import FugitiveWire

/// The bounded queue of messages waiting to be written to one peer, as a state machine
/// with no I/O: ``SignalLink`` keeps it under a lock, the connection's event loop drains
/// it. A peer that stops reading fills it; the queue then ends with an error instead of
/// buffering without bound.
struct OutboundQueue {
    /// What the connection is asked to write.
    enum Item: Sendable {
        case message(ServerMessage)
        /// Send `error` with this code and close the WebSocket; always the last item.
        case close(WireError)
    }

    /// What became of a message.
    enum Outcome: Equatable {
        case queued
        /// The queue was full: it now ends with a `rate-limited` close (once).
        case overflowed
        /// The queue had already ended.
        case refused
    }

    /// What the caller must do after a change.
    enum Action: Equatable {
        case none
        /// Ask the event loop to drain the queue (no drain is pending yet).
        case scheduleDrain
    }

    private(set) var items: [Item] = []
    let limit: Int
    /// Whether a drain has been asked for and not yet run.
    private var drainScheduled = false
    /// Whether the queue took its last item (a close, or the connection is gone).
    private(set) var ended = false
    /// Whether the queue ended because it was full.
    private(set) var overflowed = false

    init(limit: Int) { self.limit = limit }

    /// Queues a message, unless the queue has ended or is full (it then ends with a
    /// `rate-limited` close).
    mutating func send(_ message: ServerMessage) -> (outcome: Outcome, action: Action) {
        guard !ended else { return (.refused, .none) }
        guard items.count < limit else {
            overflowed = true
            return (.overflowed, close(WireError(.rateLimited, "\(limit) messages queued: the peer is not reading")))
        }
        items.append(.message(message))
        return (.queued, scheduleDrain())
    }

    /// Queues the closing error; nothing queued after it is accepted.
    mutating func close(_ error: WireError) -> Action {
        guard !ended else { return .none }
        ended = true
        items.append(.close(error))
        return scheduleDrain()
    }

    /// Ends the queue without a close (the connection is already gone) and drops what
    /// was waiting.
    mutating func finish() {
        ended = true
        items.removeAll()
    }

    /// Takes what is queued, up to and including a close. With `writable` false only a
    /// close is urgent: messages stay queued until the socket drains.
    mutating func drain(writable: Bool) -> [Item] {
        drainScheduled = false
        guard writable || ended else { return [] }
        let taken = items
        items = []
        return taken
    }

    private mutating func scheduleDrain() -> Action {
        guard !drainScheduled else { return .none }
        drainScheduled = true
        return .scheduleDrain
    }
}
