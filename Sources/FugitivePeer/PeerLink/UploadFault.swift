/// A test hook: how this peer's uploads misbehave, so that tests can run a hostile peer
/// of the project's own through the real orchestrator and real WebRTC. Never set outside
/// tests.
public struct UploadFault: Sendable, Hashable {
    /// Flip a byte in every chunk (a lying peer: caught by the digest).
    public var corrupts = false
    /// Send the head at once, then one chunk per interval (a dripping peer).
    public var dripInterval: Duration?

    public init(corrupts: Bool = false, dripInterval: Duration? = nil) {
        self.corrupts = corrupts
        self.dripInterval = dripInterval
    }

    /// Honest uploads.
    public static let none = UploadFault()
}
