/// Limits every receiver applies to the messages it accepts; values beyond them are
/// refused with ``WireErrorCode/frameTooLarge`` or ``WireErrorCode/invalidField``.
public struct WireLimits: Sendable, Hashable {
    /// Largest frame accepted, in bytes. Default 64 KiB (server link); the peer link uses 16 KiB.
    public var maxFrameSize: Int
    /// Deepest nesting inside a frame. Default 8.
    public var maxDepth: Int
    /// Longest swarm key, in UTF-8 bytes. Default 256.
    public var maxSwarmKeyLength: Int
    /// Longest URL, in UTF-8 bytes. Default 4096.
    public var maxURLLength: Int
    /// Longest SDP blob, in UTF-8 bytes. Default 16 KiB.
    public var maxSDPLength: Int
    /// Longest ICE candidate line or mid, in UTF-8 bytes. Default 1024.
    public var maxCandidateLength: Int
    /// Longest free text (error messages, agent strings, tokens), in UTF-8 bytes. Default 1024.
    public var maxTextLength: Int
    /// Most entries in any list field (`have`, `drop`, `holders`, ICE servers…). Default 256.
    public var maxListCount: Int
    /// Largest `target`/`max` link count and `want`/`who-has` count. Default 64.
    public var maxPeerCount: Int

    public init(
        maxFrameSize: Int = 64 << 10,
        maxDepth: Int = 8,
        maxSwarmKeyLength: Int = 256,
        maxURLLength: Int = 4096,
        maxSDPLength: Int = 16 << 10,
        maxCandidateLength: Int = 1024,
        maxTextLength: Int = 1024,
        maxListCount: Int = 256,
        maxPeerCount: Int = 64
    ) {
        self.maxFrameSize = maxFrameSize
        self.maxDepth = maxDepth
        self.maxSwarmKeyLength = maxSwarmKeyLength
        self.maxURLLength = maxURLLength
        self.maxSDPLength = maxSDPLength
        self.maxCandidateLength = maxCandidateLength
        self.maxTextLength = maxTextLength
        self.maxListCount = maxListCount
        self.maxPeerCount = maxPeerCount
    }

    /// The server link's defaults (64 KiB frames).
    public static let serverLink = WireLimits()
    /// The peer link's defaults: frames of at most 16 KiB, the data-channel message size.
    public static let peerLink = WireLimits(maxFrameSize: 16 << 10)

    func check(_ text: String?, max: Int, _ field: String) throws(WireError) {
        guard let text, text.utf8.count > max else { return }
        throw WireError(.invalidField, "\(field) is \(text.utf8.count) bytes, limit \(max)")
    }

    func check(count: Int, max: Int, _ field: String) throws(WireError) {
        guard count > max else { return }
        throw WireError(.invalidField, "\(field) has \(count) entries, limit \(max)")
    }
}

/// Who may send a message on its link.
public enum WireSender: Sendable, Hashable {
    case peer
    case server
    case either
}
