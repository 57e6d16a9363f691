import Synchronization

/// A WebRTC data channel: one SCTP stream pair, opened with DCEP. Messages are whole
/// (SCTP keeps boundaries) and arrive in order on an ordered channel.
///
/// ``send(_:)`` suspends while the association's send buffer is full, so a fast sender
/// is held at the pace of the path instead of queueing without bound.
public final class DataChannel: Sendable {
    /// One message.
    public enum Message: Sendable, Equatable {
        case binary([UInt8])
        case text(String)

        /// The payload's size in bytes.
        public var count: Int {
            switch self {
            case .binary(let bytes): bytes.count
            case .text(let text): text.utf8.count
            }
        }
    }

    /// The label given by the side that opened the channel.
    public let label: String
    /// The SCTP stream id (even when the DTLS client opened it, odd otherwise).
    public let id: UInt16
    /// Whether messages arrive in the order they were sent.
    public let ordered: Bool
    /// Messages from the peer, for one reader; the sequence ends when the channel closes.
    /// Unread messages hold the peer's sends back (``Messages``).
    public var messages: Messages { Messages(inbox: inbox) }

    let reliability: DCEP.Reliability
    private let inbox = ChannelInbox()
    private weak let connection: PeerConnection?
    private let state = Mutex(State())

    private struct State {
        var closed = false
        var sentBytes = 0
        var receivedBytes = 0
        var sentMessages = 0
        var receivedMessages = 0
    }

    /// Counters of one channel.
    public struct Statistics: Sendable, Equatable {
        public var sentBytes: Int
        public var receivedBytes: Int
        public var sentMessages: Int
        public var receivedMessages: Int
    }

    init(label: String, id: UInt16, reliability: DCEP.Reliability, connection: PeerConnection) {
        self.label = label
        self.id = id
        self.reliability = reliability
        self.ordered = reliability.ordered
        self.connection = connection
    }

    /// Sends one message, suspending while the send buffer is full.
    /// - Throws: ``RTCError`` `closed` once the channel or connection closed, or
    ///   `sctpFailed` for a message the association refuses (e.g. over its size limit).
    public func send(_ message: Message) async throws(RTCError) {
        guard let connection, !state.withLock({ $0.closed }) else { throw RTCError(.closed, "data channel \(label) is closed") }
        let (ppid, payload): (DCEP.PPID, [UInt8]) =
            switch message {
            case .binary(let bytes): bytes.isEmpty ? (.emptyBinary, [0]) : (.binary, bytes)
            case .text(let text): text.isEmpty ? (.emptyString, [0]) : (.string, Array(text.utf8))
            }
        try await connection.send(payload, ppid: ppid, on: self)
        let sent = state.withLock { state in
            state.sentBytes += message.count
            state.sentMessages += 1
            return state.sentMessages
        }
        // A send suspends only while SCTP's buffer is full. To a fast peer it may never
        // be, and a sending loop would keep its thread, encrypting, for as long as it has
        // data; yielding now and then lets other tasks of the process run (timers,
        // heartbeats), at the cost of one hop per 64 messages.
        if sent % Self.messagesPerYield == 0 { await Task.yield() }
    }

    static let messagesPerYield = 64

    /// Closes the channel (resets its stream); the peer's side closes too. Messages not
    /// read yet are dropped.
    public func close() {
        guard markClosed(droppingUnread: true) else { return }
        connection?.resetStream(id)
    }

    /// Bytes and messages so far.
    public var statistics: Statistics {
        state.withLock {
            Statistics(sentBytes: $0.sentBytes, receivedBytes: $0.receivedBytes, sentMessages: $0.sentMessages, receivedMessages: $0.receivedMessages)
        }
    }

    /// Whether the channel is closed.
    public var isClosed: Bool { state.withLock { $0.closed } }

    // MARK: From the connection

    /// A message from the peer, holding `association`'s receive space until it is read.
    func deliver(ppid: UInt32, data: [UInt8], from association: SCTPAssociation?) {
        let message: Message
        switch DCEP.PPID(rawValue: ppid) {
        case .string: message = .text(String(decoding: data, as: UTF8.self))
        case .binary: message = .binary(data)
        case .emptyString: message = .text("")
        case .emptyBinary: message = .binary([])
        case .control, nil: return
        }
        guard inbox.append(message, held: data.count, from: association) else { return }
        state.withLock {
            $0.receivedBytes += message.count
            $0.receivedMessages += 1
        }
    }

    /// Marks the channel closed and ends its messages after those already received (or
    /// at once, `droppingUnread`); false if it already was.
    @discardableResult
    func markClosed(droppingUnread: Bool = false) -> Bool {
        let first = state.withLock { state in
            defer { state.closed = true }
            return !state.closed
        }
        inbox.finish(dropQueued: droppingUnread)
        return first
    }
}
