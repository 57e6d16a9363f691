import FugitiveWire
import Synchronization

/// Requests to the server that have an answer (`who-has` → `holders`, `vouch` →
/// `vouched`), matched by request id, each bounded by a timeout: a server that never
/// answers costs the timeout, never a hung fetch.
final class ServerRequests: Sendable {
    private struct State {
        var next: UInt32 = 1
        var waiting: [UInt32: AsyncStream<ServerMessage>.Continuation] = [:]
    }

    private let state = Mutex(State())

    /// Sends what `make` builds with a fresh request id through `send`, and waits for the
    /// answer with that id. `nil` when `send` fails, on timeout, or on cancellation.
    func ask(timeout: Duration, send: (ServerMessage) -> Bool, _ make: (UInt32) -> ServerMessage) async -> ServerMessage? {
        let (answers, sink) = AsyncStream.makeStream(of: ServerMessage.self)
        let id = state.withLock { state in
            defer { state.next &+= 1 }
            state.waiting[state.next] = sink
            return state.next
        }
        defer { state.withLock { _ = $0.waiting.removeValue(forKey: id) } }
        guard send(make(id)) else { return nil }
        return await first(of: answers, within: timeout)
    }

    /// Delivers an answer; false when it answers nothing this side asked.
    @discardableResult
    func answer(_ message: ServerMessage) -> Bool {
        let id: UInt32?
        switch message {
        case .holders(let holders): id = holders.requestID
        case .vouched(let vouched): id = vouched.requestID
        case .error(let error): id = error.requestID
        default: id = nil
        }
        guard let id, let sink = state.withLock({ $0.waiting.removeValue(forKey: id) }) else { return false }
        sink.yield(message)
        sink.finish()
        return true
    }

    /// Ends every wait (the connection to the server is gone).
    func failAll() {
        let sinks = state.withLock { state in
            defer { state.waiting = [:] }
            return Array(state.waiting.values)
        }
        for sink in sinks { sink.finish() }
    }
}
