import FugitiveRTC
import FugitiveStore
import FugitiveTestSupport
import FugitiveWire
import Logging
import NIOCore
import Synchronization

@testable import FugitivePeer

/// A hostile peer of the project's own over real WebRTC: two peer connections on
/// loopback, one side a real ``PeerLink`` (the victim), the other a bare data channel
/// the test writes any message to, valid or not, and reads the victim's answers from.
final class HostileChannel: Sendable {
    let channels: ConnectedChannels
    let victim: PeerLink
    let store: ResourceStore
    let raw: DataChannel
    let codec = WireCodec(limits: .peerLink)
    private let tasks: [Task<Void, Never>]
    /// What the victim sent, in order, not yet taken by ``next(within:matching:)``.
    private let inbox = Inbox()

    final class Inbox: Sendable {
        let state = Mutex<(messages: [PeerMessage], closed: Bool)>(([], false))
        func withLock<T>(_ body: (inout (messages: [PeerMessage], closed: Bool)) -> T) -> T { state.withLock { body(&$0) } }
    }

    static let logger = Logger(label: "test.hostile")

    init(victim configuration: PeerLink.Configuration = .init(), slots: UploadSlots = UploadSlots()) async throws {
        let channels = try await ConnectedChannels.open(logger: Self.logger)
        let (channel, remote) = (channels.opened, channels.accepted)
        store = try ResourceStore(logger: Self.logger)
        victim = PeerLink(channel: channel, store: store, slots: slots, configuration: configuration, logger: Self.logger)
        raw = remote
        let codec = self.codec
        let inbox = self.inbox
        let reader = Task {
            for await message in remote.messages {
                guard case .binary(let bytes) = message, let decoded = try? codec.decodePeerMessage(ByteBuffer(bytes: bytes)) else { continue }
                inbox.withLock { $0.messages.append(decoded) }
            }
            inbox.withLock { $0.closed = true }
        }
        let victim = self.victim
        tasks = [reader, Task { await victim.run() }]
        self.channels = channels
    }

    func close() {
        for task in tasks { task.cancel() }
        channels.close()
    }

    /// Sends one message as the hostile peer.
    func send(_ message: PeerMessage) async throws {
        try await raw.send(.binary(Array(buffer: codec.encode(message))))
    }

    /// Every message of the victim's so far that `matching` accepts (taken from the inbox).
    func drain(matching: (PeerMessage) -> Bool) -> [PeerMessage] {
        inbox.withLock { inbox in
            let taken = inbox.messages.filter(matching)
            inbox.messages.removeAll(where: matching)
            return taken
        }
    }

    /// Sends raw bytes (need not be a message at all).
    func send(bytes: [UInt8]) async throws { try await raw.send(.binary(bytes)) }

    /// The next message the victim sent that `matching` accepts, or `nil` when the channel
    /// closed or `timeout` passed first.
    func next(within timeout: Duration = .seconds(5), matching: @escaping @Sendable (PeerMessage) -> Bool = { _ in true }) async -> PeerMessage? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let (found, closed) = inbox.withLock { inbox -> (PeerMessage?, Bool) in
                guard let index = inbox.messages.firstIndex(where: matching) else { return (nil, inbox.closed) }
                return (inbox.messages.remove(at: index), false)
            }
            if let found { return found }
            if closed { return nil }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return nil
    }

    /// The victim's next `request`.
    func nextRequest(within timeout: Duration = .seconds(5)) async throws -> Request {
        guard case .request(let request)? = await next(within: timeout, matching: { if case .request = $0 { true } else { false } }) else {
            throw TestFailure("no request came")
        }
        return request
    }

    /// The victim's next `error`.
    func nextError(within timeout: Duration = .seconds(5)) async throws -> ErrorMessage {
        guard case .error(let error)? = await next(within: timeout, matching: { if case .error = $0 { true } else { false } }) else {
            throw TestFailure("no error came")
        }
        return error
    }

    /// Waits until the victim's side of the channel closed.
    func waitUntilClosed(within limit: Duration = .seconds(10)) async throws {
        let deadline = ContinuousClock.now + limit
        while !victim.isClosed {
            guard ContinuousClock.now < deadline else { throw TestFailure("the victim kept the link open") }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}
