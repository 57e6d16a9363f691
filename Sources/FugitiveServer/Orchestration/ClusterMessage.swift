import FugitiveWire
import NIOCore

/// What one instance tells another about peers they share. Pairs are confirmed: the
/// asker's instance reserves a slot and asks, the partner's instance decides and answers,
/// and only then is the asker told `pair` — so a peer that filled up meanwhile is never
/// paired beyond its maximum.
public enum ClusterMessage: Sendable, Codable, Equatable {
    /// `from` (on the sender) wants to pair with `to` (on the receiver) in `swarm`; `from`
    /// will make the offer.
    case pairRequest(from: PeerID, to: PeerID, swarm: String)
    /// The answer to a ``pairRequest(from:to:swarm:)``: `to` was told `pair` when accepted.
    case pairAnswer(from: PeerID, to: PeerID, accepted: Bool)
    /// A signalling message from `signal.peer` for `to`.
    case signal(to: PeerID, signal: Signal)
    /// `from` reported its link with `to` connected, disconnected or failed.
    case link(from: PeerID, to: PeerID, state: LinkState, rttMillis: Double?)
    /// `peer` is gone (its session ended or moved): its partners `to` must be told.
    case peerLeft(peer: PeerID, to: [PeerID])
    /// The session `peer` was resumed on the sender: the receiver closes its old
    /// connection or forgets its parked session, without telling anyone.
    case sessionMoved(peer: PeerID, resumeToken: String)

    /// The message's name, for logs.
    public var name: String {
        switch self {
        case .pairRequest: "pair-request"
        case .pairAnswer: "pair-answer"
        case .signal: "signal"
        case .link: "link"
        case .peerLeft: "peer-left"
        case .sessionMoved: "session-moved"
        }
    }
}

/// A message between instances as the stores carry it: MessagePack, base64 for stores
/// whose channel takes text (PostgreSQL's NOTIFY), with the sender's id.
public struct ClusterEnvelope: Sendable, Codable, Equatable {
    public var from: InstanceID
    /// The sender's count of messages sent, from 1.
    public var sequence: UInt64
    public var message: ClusterMessage

    public init(from: InstanceID, sequence: UInt64, message: ClusterMessage) {
        self.from = from
        self.sequence = sequence
        self.message = message
    }

    public func encoded() throws -> [UInt8] { Array(buffer: try MessagePackEncoder().encode(self)) }

    public static func decode(_ bytes: [UInt8]) throws -> ClusterEnvelope {
        try MessagePackDecoder().decode(ClusterEnvelope.self, from: bytes)
    }
}
