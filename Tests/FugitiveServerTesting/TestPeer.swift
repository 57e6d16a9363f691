import FugitiveTestSupport
import FugitiveWire
import HTTPTypes
import HummingbirdWSClient
import Logging
import NIOCore
import NIOWebSocket
import Synchronization

/// A real WebSocket client speaking the wire protocol to a ``LiveServer``.
public final class TestPeer: Sendable {
    public let inbox = Inbox()
    private let paused = ReadGate()
    private let outgoing: AsyncStream<WebSocketOutboundWriter.OutboundFrame>.Continuation
    public let task: Task<WebSocketCloseFrame?, any Error>
    public let codec = WireCodec(limits: .serverLink)

    /// Connects; `address` is claimed through X-Forwarded-For (the test server trusts it).
    public init(_ url: String, address: String? = nil, origin: String? = nil) {
        let (stream, continuation) = AsyncStream.makeStream(of: WebSocketOutboundWriter.OutboundFrame.self)
        outgoing = continuation
        var configuration = WebSocketClientConfiguration(maxFrameSize: 1 << 20)
        if let address { configuration.additionalHeaders[HTTPField.Name("X-Forwarded-For")!] = address }
        if let origin { configuration.additionalHeaders[.origin] = origin }
        let inbox = inbox
        let codec = codec
        let paused = paused
        var logger = Logger(label: "test.peer")
        logger.logLevel = .critical
        task = Task {
            defer { Task { await inbox.finish() } }
            return try await WebSocketClient.connect(url: url, configuration: configuration, logger: logger) { inbound, outbound, _ in
                let writer = Task {
                    for await frame in stream { try await outbound.write(frame) }
                    try await outbound.close(.normalClosure, reason: nil)
                }
                defer { writer.cancel() }
                for try await message in inbound.messages(maxSize: 1 << 20) {
                    // While paused the loop stalls, and the client stops reading its socket.
                    while paused.closed.load(ordering: .relaxed) { try await Task.sleep(for: .milliseconds(10)) }
                    guard case .binary(let buffer) = message else { continue }
                    await inbox.push((try? codec.decodeServerMessage(buffer)).map(Inbox.Event.message) ?? .undecodable)
                }
            }
        }
    }

    public func send(_ message: ServerMessage) { outgoing.yield(.binary(codec.encode(message))) }
    public func sendRaw(_ bytes: [UInt8]) { outgoing.yield(.binary(ByteBuffer(bytes: bytes))) }
    public func sendText(_ text: String) { outgoing.yield(.text(text)) }
    /// Stops reading from the socket (after at most the frame in hand), like a peer
    /// that hangs.
    public func pauseReading() { paused.closed.store(true, ordering: .relaxed) }
    public func resumeReading() { paused.closed.store(false, ordering: .relaxed) }
    /// Closes the WebSocket cleanly.
    public func close() { outgoing.finish() }

    /// The next message, or a failure after `timeout`.
    public func next(timeout: Duration = .seconds(10)) async throws -> ServerMessage {
        switch await inbox.next(timeout: timeout) {
        case .message(let message)?: return message
        case .undecodable?: throw TestFailure("server sent an undecodable frame")
        case nil: throw TestFailure("no message within \(timeout) (or connection closed)")
        }
    }

    /// Waits for the next message that `match` accepts, skipping others.
    public func expect<T>(timeout: Duration = .seconds(10), _ match: (ServerMessage) -> T?) async throws -> T {
        let deadline = ContinuousClock.now + timeout
        while true {
            let message = try await next(timeout: max(.milliseconds(1), deadline - .now))
            if let value = match(message) { return value }
        }
    }

    /// Says hello and returns the welcome.
    public func join(swarm: String = "s", target: Int = 4, max: Int = 8, resumeToken: String? = nil, joinToken: String? = nil) async throws -> Welcome
    {
        send(.hello(Hello(swarm: swarm, targetPeers: target, maxPeers: max, resumeToken: resumeToken, joinToken: joinToken)))
        let answer = try await expect { message -> Result<Welcome, TestFailure>? in
            switch message {
            case .welcome(let w): .success(w)
            case .error(let e): .failure(TestFailure("hello refused: \(e.code) \(e.message)"))
            default: nil
            }
        }
        return try answer.get()
    }

    /// Waits until the server has closed the connection; returns its close frame.
    public func closed(timeout: Duration = .seconds(10)) async throws -> WebSocketCloseFrame? {
        try await withThrowingTaskGroup(of: WebSocketCloseFrame?.self) { group in
            group.addTask { try await self.task.value }
            group.addTask {
                try await Task.sleep(for: timeout)
                throw TestFailure("connection still open after \(timeout)")
            }
            defer { group.cancelAll() }
            return try await group.next()!
        }
    }

    /// Asks the server to vouch for `url` and waits for its answer: `vouched`, or the
    /// `error` naming the request.
    public func vouch(_ url: String, id: UInt32) async throws -> ServerMessage {
        send(.vouch(Vouch(requestID: id, url: url)))
        return try await expect(timeout: .seconds(15)) { message in
            switch message {
            case .vouched(let v) where v.requestID == id: message
            case .error(let e) where e.requestID == id: message
            default: nil
            }
        }
    }

    /// Whether nothing arrives within `window`.
    public func isSilent(for window: Duration = .milliseconds(300)) async -> Bool {
        await inbox.next(timeout: window) == nil
    }
}

/// Whether a ``TestPeer`` reads its socket.
final class ReadGate: Sendable {
    let closed = Atomic(false)
}

/// Messages received, with waiting and timeouts.
public actor Inbox {
    public enum Event: Sendable, Equatable {
        case message(ServerMessage)
        case undecodable
    }

    private var buffer: [Event] = []
    private var finished = false
    private var waiter: (id: Int, continuation: CheckedContinuation<Event?, Never>)?
    private var nextWaiter = 0

    func push(_ event: Event) {
        if let waiter {
            self.waiter = nil
            waiter.continuation.resume(returning: event)
        } else {
            buffer.append(event)
        }
    }

    func finish() {
        finished = true
        waiter?.continuation.resume(returning: nil)
        waiter = nil
    }

    public func next(timeout: Duration) async -> Event? {
        if !buffer.isEmpty { return buffer.removeFirst() }
        if finished { return nil }
        nextWaiter += 1
        let id = nextWaiter
        return await withCheckedContinuation { continuation in
            waiter = (id, continuation)
            Task {
                try? await Task.sleep(for: timeout)
                self.expire(id)
            }
        }
    }

    private func expire(_ id: Int) {
        guard let waiter, waiter.id == id else { return }
        self.waiter = nil
        waiter.continuation.resume(returning: nil)
    }
}
