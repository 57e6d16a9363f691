import HummingbirdWSClient
import Logging
import NIOCore
import Synchronization

/// One load-generating WebSocket client. Frames it receives go to `onFrame` on the
/// connection's own task; frames to send are queued and written in order.
final class BenchPeer: Sendable {
    private let outgoing: AsyncStream<ByteBuffer>.Continuation
    let task: Task<Void, Never>

    init(url: String, logger: Logger, onFrame: @escaping @Sendable (ByteBuffer) -> Void, onEnd: @escaping @Sendable () -> Void) {
        let (stream, continuation) = AsyncStream.makeStream(of: ByteBuffer.self)
        outgoing = continuation
        task = Task {
            _ = try? await WebSocketClient.connect(
                url: url, configuration: .init(maxFrameSize: 1 << 17, autoPing: .disabled), logger: logger
            ) { inbound, outbound, _ in
                let writer = Task {
                    for await frame in stream { try await outbound.write(.binary(frame)) }
                    try await outbound.close(.normalClosure, reason: nil)
                }
                defer { writer.cancel() }
                for try await frame in inbound.messages(maxSize: 1 << 17) {
                    if case .binary(let buffer) = frame { onFrame(buffer) }
                }
            }
            onEnd()
        }
    }

    func send(_ frame: ByteBuffer) { outgoing.yield(frame) }
    func close() { outgoing.finish() }
}

/// A one-shot rendezvous between a connection's frame handler and the benchmark.
final class Signal1<Value: Sendable>: Sendable {
    private let state = Mutex<(value: Value?, waiter: CheckedContinuation<Value?, Never>?, done: Bool)>((nil, nil, false))

    func resolve(_ value: Value?) {
        let waiter = state.withLock { s -> CheckedContinuation<Value?, Never>? in
            guard !s.done else { return nil }
            s.done = true
            s.value = value
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume(returning: value)
    }

    func wait() async -> Value? {
        await withCheckedContinuation { continuation in
            let ready = state.withLock { s -> Value?? in
                if s.done { return .some(s.value) }
                s.waiter = continuation
                return .none
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }
}
