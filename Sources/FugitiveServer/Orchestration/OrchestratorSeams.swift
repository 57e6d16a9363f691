import FugitiveWire

/// The orchestrator's handle on one peer's connection. The relay's `SignalLink` is the
/// one implementation: a bounded queue the connection's event loop drains, so that the
/// orchestrator, which calls these under its lock, never waits on a socket.
protocol SessionLink: AnyObject, Sendable {
    /// Queues a message for the peer; `false` when the queue was full, and the
    /// connection is closed with `rate-limited` instead.
    func send(_ message: ServerMessage) -> Bool

    /// Sends `error` after what is already queued and closes the connection.
    func close(_ error: WireError)
}

/// Fetches a resource from its origin to vouch for its digest. The server's
/// ``DigestVoucher`` does it for the origins it is configured to allow.
public protocol DigestVouching: Sendable {
    /// The digest and size of what `url` serves; `requester` is charged for the fetch.
    func vouch(for url: String, requester: PeerID?) async throws(WireError) -> VouchedDigest
}

/// What a trusted source vouches for: a resource's digest and size, and the root of its
/// piece tree over pieces of `pieceSize` bytes when it was computed.
public struct VouchedDigest: Sendable, Equatable {
    public let digest: ResourceDigest
    public let size: UInt64
    public let pieceRoot: ResourceDigest?
    public let pieceSize: Int?

    public init(digest: ResourceDigest, size: UInt64, pieceRoot: ResourceDigest? = nil, pieceSize: Int? = nil) {
        self.digest = digest
        self.size = size
        self.pieceRoot = pieceRoot
        self.pieceSize = pieceSize
    }
}
