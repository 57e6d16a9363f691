/// `hello` (peer → server, type 1): the first message of a session.
public struct Hello: WireBody {
    /// The swarm (pairing context) to join, e.g. the origin of the resources.
    public var swarm: String
    /// How many links the peer tries to keep.
    public var targetPeers: Int
    /// The most links the peer accepts; the server never pairs it beyond this.
    public var maxPeers: Int
    /// A token from an earlier `welcome`, to keep the same id and holdings.
    public var resumeToken: String?
    /// Free text naming the software, for logs and the dashboard.
    public var agent: String?
    /// A join token from the site's backend (a JWT), for swarms that admit by token.
    public var joinToken: String?

    enum CodingKeys: String, CodingKey {
        case swarm = "s", targetPeers = "t", maxPeers = "m", resumeToken = "r", agent = "a", joinToken = "j"
    }

    public init(swarm: String, targetPeers: Int, maxPeers: Int, resumeToken: String? = nil, agent: String? = nil, joinToken: String? = nil) {
        self.swarm = swarm
        self.targetPeers = targetPeers
        self.maxPeers = maxPeers
        self.resumeToken = resumeToken
        self.agent = agent
        self.joinToken = joinToken
    }

    public func validate(_ limits: WireLimits) throws(WireError) {
        try limits.check(swarm, max: limits.maxSwarmKeyLength, "hello.swarm")
        guard !swarm.isEmpty else { throw WireError(.invalidField, "hello.swarm is empty") }
        guard (0...limits.maxPeerCount).contains(targetPeers), (0...limits.maxPeerCount).contains(maxPeers), targetPeers <= maxPeers else {
            throw WireError(.invalidField, "hello needs 0 ≤ target (\(targetPeers)) ≤ max (\(maxPeers)) ≤ \(limits.maxPeerCount)")
        }
        try limits.check(resumeToken, max: limits.maxTextLength, "hello.resumeToken")
        try limits.check(agent, max: limits.maxTextLength, "hello.agent")
        try limits.check(joinToken, max: 4096, "hello.joinToken")
    }
}

/// An ICE server handed to peers in `welcome`.
public struct ICEServer: Codable, Hashable, Sendable {
    /// `stun:` / `turn:` / `turns:` URLs.
    public var urls: [String]
    public var username: String?
    public var credential: String?

    enum CodingKeys: String, CodingKey { case urls = "u", username = "n", credential = "c" }

    public init(urls: [String], username: String? = nil, credential: String? = nil) {
        self.urls = urls
        self.username = username
        self.credential = credential
    }

    /// Whether `url` names a TURN server (`turn:` or `turns:`), which needs credentials.
    public static func isTURN(_ url: String) -> Bool {
        let lowered = url.lowercased()
        return lowered.hasPrefix("turn:") || lowered.hasPrefix("turns:")
    }
}

/// `welcome` (server → peer, type 2): the session is open.
public struct Welcome: WireBody {
    /// The id the server assigned (the same as before when a resume token was honoured).
    public var peer: PeerID
    /// A secret that lets this peer resume its id and holdings after a reconnect.
    public var resumeToken: String
    /// Whether the resume token sent in `hello` was honoured.
    public var resumed: Bool
    /// STUN/TURN servers to use for WebRTC.
    public var iceServers: [ICEServer]
    /// How often the peer must send `ping`, in milliseconds.
    public var heartbeatMillis: Int

    enum CodingKeys: String, CodingKey {
        case peer = "p", resumeToken = "r", resumed = "z", iceServers = "i", heartbeatMillis = "h"
    }

    public init(peer: PeerID, resumeToken: String, resumed: Bool, iceServers: [ICEServer], heartbeatMillis: Int) {
        self.peer = peer
        self.resumeToken = resumeToken
        self.resumed = resumed
        self.iceServers = iceServers
        self.heartbeatMillis = heartbeatMillis
    }

    public func validate(_ limits: WireLimits) throws(WireError) {
        try limits.check(peer.rawValue, max: limits.maxTextLength, "welcome.peer")
        try limits.check(resumeToken, max: limits.maxTextLength, "welcome.resumeToken")
        try limits.check(count: iceServers.count, max: limits.maxListCount, "welcome.iceServers")
    }
}

/// `ice-servers` (server → peer, type 19): the ICE servers to use from now on, in place of
/// those of `welcome` — sent before TURN credentials the server minted for this peer expire.
/// Connections already up keep what they have.
public struct IceServerUpdate: WireBody {
    public var iceServers: [ICEServer]

    enum CodingKeys: String, CodingKey { case iceServers = "i" }

    public init(iceServers: [ICEServer]) { self.iceServers = iceServers }

    public func validate(_ limits: WireLimits) throws(WireError) {
        try limits.check(count: iceServers.count, max: limits.maxListCount, "ice-servers.iceServers")
    }
}

/// `ping` / `pong` (either side; server link types 15/16, peer link types 7/8).
/// A `pong` echoes the `ping`'s nonce so that the sender can measure the round trip.
public struct Heartbeat: WireBody {
    public var nonce: UInt64

    enum CodingKeys: String, CodingKey { case nonce = "n" }

    public init(nonce: UInt64) { self.nonce = nonce }
}

/// `error` (either side; server link type 17, peer link type 9).
public struct ErrorMessage: WireBody {
    public var code: WireErrorCode
    public var message: String
    /// The request this error answers, when it answers one.
    public var requestID: UInt32?

    enum CodingKeys: String, CodingKey { case code = "c", message = "m", requestID = "q" }

    public init(code: WireErrorCode, message: String, requestID: UInt32? = nil) {
        self.code = code
        self.message = message
        self.requestID = requestID
    }

    public init(_ error: WireError, requestID: UInt32? = nil) {
        self.init(code: error.code, message: error.message, requestID: requestID)
    }

    public func validate(_ limits: WireLimits) throws(WireError) {
        try limits.check(message, max: limits.maxTextLength, "error.message")
    }
}
