import FugitiveWire
import Synchronization

/// What a connection's writer is asked to do.
enum Outbound: Sendable {
    case message(ServerMessage)
    /// Send `error` with this code and close the WebSocket.
    case close(WireError)
}

/// The bounded queue of messages for one connection. A peer that stops reading fills it;
/// the queue then ends, and the writer closes the connection instead of buffering
/// without bound.
final class Outbox: Sendable {
    private let continuation: AsyncStream<Outbound>.Continuation
    private let overflow = Atomic<Bool>(false)
    let stream: AsyncStream<Outbound>
    let limit: Int

    init(limit: Int) {
        self.limit = limit
        (stream, continuation) = AsyncStream.makeStream(of: Outbound.self, bufferingPolicy: .bufferingOldest(limit))
    }

    /// Queues a message; returns false when the queue was full (it is then ended) or had
    /// already ended.
    @discardableResult
    func send(_ message: ServerMessage) -> Bool {
        switch continuation.yield(.message(message)) {
        case .enqueued: return true
        case .dropped:
            overflow.store(true, ordering: .relaxed)
            continuation.finish()
            return false
        case .terminated: return false
        @unknown default: return false
        }
    }

    /// Asks the writer to send `error` and close; nothing queued after it is sent.
    func close(_ error: WireError) {
        continuation.yield(.close(error))
        continuation.finish()
    }

    /// Whether the queue ended because it was full.
    var overflowed: Bool { overflow.load(ordering: .relaxed) }

    /// Ends the queue without a close message (the peer is already gone).
    func finish() { continuation.finish() }
}
