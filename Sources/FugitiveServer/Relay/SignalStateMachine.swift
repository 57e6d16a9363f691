import FugitiveWire
import NIOCore
import NIOWebSocket

/// The life of one signalling connection, without I/O, as swift-nio's and swift-websocket's
/// state machines are: ``SignalHandler`` reports what happened, the machine changes state
/// and answers with what to do. Each state carries what it owns — the connection's
/// ``SignalLink`` once admitted, the peer's id once joined, the messages that came while a
/// resume was looked up — so that no combination of optionals can be wrong.
///
/// ```
/// admitted ─▶ awaitingHello ─hello─▶ (resuming ─found─▶) joined
///                 │                         │              │
///                 └───── close frame sent or answered ─────┴─▶ closing ─▶ closed
/// ```
struct SignalStateMachine<Link: AnyObject> {
    enum State {
        /// Admitted; the first message must be `hello`.
        case awaitingHello(Link)
        /// `hello` came and the session is being looked up in the cluster's store;
        /// messages that come meanwhile wait, in order.
        case resuming(Link, early: [ServerMessage])
        /// The session is open.
        case joined(Link, PeerID)
        /// A close frame is out (ours, or our answer to the peer's): nothing more is read.
        /// The link, if the connection was admitted, is kept for the end.
        case closing(Link?, PeerID?)
        /// The socket is gone.
        case closed
    }

    /// What to do with a message.
    enum MessageAction {
        /// Hand it to the orchestrator for the joined peer.
        case deliver(ServerMessage, PeerID, Link)
        /// The first message: admit the swarm, then join or look the session up.
        case hello(Hello, Link)
        /// Refuse with this error (then close).
        case fail(WireError)
        /// Kept until the session is open, or dropped after the close.
        case none
    }

    /// What to do with the peer's close frame.
    enum CloseAction: Equatable {
        /// Answer with this code (RFC 6455 §5.5.1), then close the socket.
        case answer(WebSocketErrorCode)
        /// Our close frame was out already: this is its answer; close the socket.
        case closeSocket
    }

    /// Messages kept at most while a resume is looked up.
    static var maxEarlyMessages: Int { 32 }

    private(set) var state: State
    /// The payload of the latest ping not answered yet: only one is ever kept.
    private var pendingPong: ByteBuffer?

    /// A connection that was admitted (`link` is its queue) or, with `nil`, refused: a
    /// refused connection only closes.
    init(admitted link: Link?) {
        state = link.map { .awaitingHello($0) } ?? .closing(nil, nil)
    }

    /// Whether frames are still read and written.
    var isOpen: Bool {
        switch state {
        case .awaitingHello, .resuming, .joined: true
        case .closing, .closed: false
        }
    }

    /// The admitted connection's link, until the socket is gone.
    var link: Link? {
        switch state {
        case .awaitingHello(let link), .resuming(let link, _), .joined(let link, _): link
        case .closing(let link, _): link
        case .closed: nil
        }
    }

    /// The peer's id once joined.
    var peer: PeerID? {
        switch state {
        case .joined(_, let id): id
        case .closing(_, let id): id
        case .awaitingHello, .resuming, .closed: nil
        }
    }

    mutating func messageReceived(_ message: ServerMessage) -> MessageAction {
        switch state {
        case .joined(let link, let id):
            return .deliver(message, id, link)
        case .awaitingHello(let link):
            guard case .hello(let hello) = message else {
                return .fail(WireError(.unexpectedMessage, "the first message must be hello, not type \(message.type)"))
            }
            return .hello(hello, link)
        case .resuming(let link, var early):
            guard early.count < Self.maxEarlyMessages else {
                return .fail(WireError(.rateLimited, "more than \(Self.maxEarlyMessages) messages before welcome"))
            }
            early.append(message)
            state = .resuming(link, early: early)
            return .none
        case .closing, .closed:
            return .none
        }
    }

    /// The `hello` waits on the cluster's store: later messages are kept until it answers.
    mutating func lookUpStarted() {
        guard case .awaitingHello(let link) = state else { return }
        state = .resuming(link, early: [])
    }

    /// Whether a `hello` may still be joined (the connection did not close meanwhile, and
    /// joined no session yet): the link to join with.
    var joinable: Link? {
        switch state {
        case .awaitingHello(let link), .resuming(let link, _): link
        case .joined, .closing, .closed: nil
        }
    }

    /// The session is open as `id`: the messages that waited for it, to deliver in order.
    mutating func joined(_ id: PeerID) -> [ServerMessage] {
        switch state {
        case .awaitingHello(let link):
            state = .joined(link, id)
            return []
        case .resuming(let link, let early):
            state = .joined(link, id)
            return early
        case .joined, .closing, .closed:
            return []
        }
    }

    /// Our close frame is out.
    mutating func closeFrameSent() {
        guard isOpen else { return }
        state = .closing(link, peer)
    }

    /// The peer sent a close frame carrying `code`.
    mutating func closeFrameReceived(code: WebSocketErrorCode?) -> CloseAction {
        guard isOpen else { return .closeSocket }
        state = .closing(link, peer)
        return .answer(Self.answerCode(for: code))
    }

    mutating func pingReceived(_ payload: ByteBuffer) {
        guard isOpen else { return }
        pendingPong = payload
    }

    /// The pong to write now, if one is owed and the connection is open.
    mutating func takePendingPong() -> ByteBuffer? {
        guard isOpen, let pong = pendingPong else { return nil }
        pendingPong = nil
        return pong
    }

    /// The socket is gone: the link and the peer to end the session of, once.
    mutating func ended() -> (link: Link, peer: PeerID?)? {
        let ending = link.map { ($0, peer) }
        state = .closed
        pendingPong = nil
        return ending
    }

    /// The code to answer a peer's close with: its own when RFC 6455 allows it on the wire
    /// (1000–1003, 1007–1011, 3000–4999), else 1000 (no code) or 1002 (a forbidden one).
    static func answerCode(for code: WebSocketErrorCode?) -> WebSocketErrorCode {
        guard let code else { return .normalClosure }
        switch UInt16(webSocketErrorCode: code) {
        case 1000...1003, 1007...1011, 3000...4999: return code
        default: return .protocolError
        }
    }
}
