/// A test hook: how this peer's uploads misbehave, so that tests can run a hostile peer
/// of the project's own through the real orchestrator and real WebRTC. Never set outside
/// tests.
public struct UploadFault: Sendable, Hashable {
    /// Flip a byte in every chunk (a lying peer: caught by the digest).
    public var corrupts = false
    /// Send the head at once, then one chunk per interval (a dripping peer).
    public var dripInterval: Duration?
    /// Announce this content type in every head (correct bytes, an active type: a peer
    /// trying to make a page render what the origin served as data).
    public var contentType: String?
    /// Send the chunks last first (correct bytes, an order the protocol allows).
    public var reversesChunks = false
    /// Send messages of about this many payload bytes (under the protocol's 1 KiB floor:
    /// a peer that makes the receiver pay a message for every few bytes).
    public var chunkPayload: Int?

    public init(
        corrupts: Bool = false, dripInterval: Duration? = nil, contentType: String? = nil, reversesChunks: Bool = false, chunkPayload: Int? = nil
    ) {
        self.corrupts = corrupts
        self.dripInterval = dripInterval
        self.contentType = contentType
        self.reversesChunks = reversesChunks
        self.chunkPayload = chunkPayload
    }

    /// Honest uploads.
    public static let none = UploadFault()
}
