/// A stable numeric error code shared by both links and written on the wire in `error`
/// messages. Unknown codes from newer peers decode fine and keep their number.
public struct WireErrorCode: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
    public let rawValue: UInt16

    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public var description: String { "\(rawValue) \(Self.names[rawValue] ?? "unknown")" }

    // 1xxx: the frame or message itself is bad. The receiver sends `error` and closes the link.
    /// Not MessagePack, or not a `[version, type, body]` envelope.
    public static let malformedFrame = Self(rawValue: 1001)
    /// The frame exceeds the link's maximum frame size.
    public static let frameTooLarge = Self(rawValue: 1002)
    /// The message type is not defined by the negotiated version.
    public static let unknownMessageType = Self(rawValue: 1003)
    /// The envelope's version is not supported.
    public static let unsupportedVersion = Self(rawValue: 1004)
    /// A field is missing, has the wrong type, or breaks a documented limit.
    public static let invalidField = Self(rawValue: 1005)
    /// The message is valid but not allowed now or from this sender.
    public static let unexpectedMessage = Self(rawValue: 1006)
    /// The sender exceeded a rate limit.
    public static let rateLimited = Self(rawValue: 1007)

    // 2xxx: orchestrator decisions.
    /// A signal was addressed to a peer the sender is not paired with.
    public static let notPaired = Self(rawValue: 2001)
    /// The swarm has reached its peer limit.
    public static let swarmFull = Self(rawValue: 2002)
    /// Too many connections from one address.
    public static let tooManyConnections = Self(rawValue: 2003)
    /// Too many holdings announced by one peer.
    public static let tooManyAnnouncements = Self(rawValue: 2004)
    /// The origin of a `vouch` is not on the allowlist, or resolves to a refused address.
    public static let originNotAllowed = Self(rawValue: 2005)
    /// The origin could not be fetched for a `vouch`.
    public static let originFailed = Self(rawValue: 2006)
    /// No heartbeat arrived within the timeout.
    public static let heartbeatTimeout = Self(rawValue: 2007)
    /// A pair did not report `connected` within the timeout.
    public static let pairTimeout = Self(rawValue: 2008)
    /// The named peer is not (or no longer) connected.
    public static let unknownPeer = Self(rawValue: 2009)
    /// The resume token is unknown or expired; a new id was assigned.
    public static let resumeRejected = Self(rawValue: 2010)
    /// The server is shutting down.
    public static let shuttingDown = Self(rawValue: 2011)
    /// The swarm does not admit this client: its page origin is not allowed, or its join
    /// token is missing, expired, for another swarm or wrongly signed.
    public static let notAdmitted = Self(rawValue: 2012)
    /// One side reported the link closed or failed: the pair is over (in `unpair`).
    public static let linkEnded = Self(rawValue: 2013)
    /// A pair never became a link: one side reported it failed before both had
    /// reported `connected`. The server does not make that pair again for a while (in `unpair`).
    public static let pairFailed = Self(rawValue: 2014)

    // 3xxx: the peer link's transfers.
    /// A chunk, cancel or head names a request id that is not open.
    public static let unknownRequest = Self(rawValue: 3001)
    /// The assembled bytes do not hash to the trusted digest.
    public static let digestMismatch = Self(rawValue: 3002)
    /// The bytes received do not add up to the announced size.
    public static let sizeMismatch = Self(rawValue: 3003)
    /// A chunk index is outside the announced range, or a chunk has the wrong length.
    public static let chunkOutOfRange = Self(rawValue: 3004)
    /// A chunk index arrived twice.
    public static let duplicateChunk = Self(rawValue: 3005)
    /// Chunks are missing when the transfer ends.
    public static let missingChunks = Self(rawValue: 3006)
    /// The announced size exceeds the receiver's maximum resource size.
    public static let resourceTooLarge = Self(rawValue: 3007)
    /// Inflating a compressed transfer failed or exceeded the announced size.
    public static let inflateFailed = Self(rawValue: 3008)
    /// Too many concurrent requests on one link.
    public static let tooManyRequests = Self(rawValue: 3009)

    static let names: [UInt16: String] = [
        1001: "malformed-frame", 1002: "frame-too-large", 1003: "unknown-message-type",
        1004: "unsupported-version", 1005: "invalid-field", 1006: "unexpected-message", 1007: "rate-limited",
        2001: "not-paired", 2002: "swarm-full", 2003: "too-many-connections", 2004: "too-many-announcements",
        2005: "origin-not-allowed", 2006: "origin-failed", 2007: "heartbeat-timeout", 2008: "pair-timeout",
        2009: "unknown-peer", 2010: "resume-rejected", 2011: "shutting-down", 2012: "not-admitted", 2013: "link-ended", 2014: "pair-failed",
        3001: "unknown-request", 3002: "digest-mismatch", 3003: "size-mismatch", 3004: "chunk-out-of-range",
        3005: "duplicate-chunk", 3006: "missing-chunks", 3007: "resource-too-large", 3008: "inflate-failed",
        3009: "too-many-requests",
    ]

    /// The code's short name, e.g. `"not-paired"`.
    public var name: String { Self.names[rawValue] ?? "unknown" }
}

/// An error of the Fugitive protocol: a stable code and a human readable message.
public struct WireError: Error, Hashable, Sendable, CustomStringConvertible {
    public let code: WireErrorCode
    public let message: String

    public init(_ code: WireErrorCode, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.name) (\(code.rawValue)): \(message)" }
}
