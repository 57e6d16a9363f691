/// A WebRTC session description reduced to what a data-channel-only peer needs:
/// the transport (ICE, DTLS) and SCTP parameters of its one `m=application` section.
///
/// Parsing is tolerant so that offers and answers from Chromium, Firefox and aiortc
/// all read: unknown lines and attributes are ignored, `\r\n`, `\n` and `\r` line
/// endings are accepted, and transport attributes may sit at media level, in the
/// BUNDLE-tagged section or at session level (media level wins).
///
/// Audio and video sections, which a browser offer may carry, are not negotiated.
/// They are recorded in ``skippedMedia`` so that an answer can reject them in place
/// (RFC 3264 requires the answer to mirror every offered section): copy them into the
/// local answer and ``sdp`` writes them with port 0.
public struct SessionDescription: Sendable, Hashable {
    /// The offer/answer role of a description (RFC 3264).
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        /// The first description of an exchange.
        case offer
        /// The reply that completes an exchange.
        case answer
    }

    /// The SCTP port used when a description names none (RFC 8841 §5).
    public static let defaultSCTPPort: UInt16 = 5000
    /// The maximum message size assumed when `a=max-message-size` is absent (RFC 8841 §6).
    public static let defaultMaxMessageSize = 65_536
    /// The maximum message size we advertise by default; the same as Chromium.
    public static let advertisedMaxMessageSize = 262_144
    /// The attribute carrying ``maxDatagramSize``.
    static let maxDatagramAttribute = "x-fugitive-max-datagram"

    /// Whether this is an offer or an answer.
    public var kind: Kind
    /// The `<sess-id>` of the `o=` line; 0 when the line is absent.
    public var sessionId: UInt64
    /// The `<sess-version>` of the `o=` line; it must grow with every new local description.
    public var sessionVersion: UInt64
    /// The ICE username fragment (`a=ice-ufrag`).
    public var iceUfrag: String
    /// The ICE password (`a=ice-pwd`).
    public var icePwd: String
    /// The ICE options (`a=ice-options`), e.g. `["trickle"]`.
    public var iceOptions: [String]
    /// Whether the endpoint is an ICE-lite implementation (`a=ice-lite`); the other
    /// side must then be the controlling agent.
    public var iceLite: Bool
    /// The SHA-256 fingerprint of the endpoint's DTLS certificate.
    public var fingerprint: Fingerprint
    /// The DTLS connection setup role (`a=setup`).
    public var setup: SetupRole
    /// The identification tag of the data channel section (`a=mid`); Chromium and
    /// aiortc use `"0"`. A section without one is named after its index.
    public var mid: String
    /// The SCTP port inside the DTLS association (`a=sctp-port`).
    public var sctpPort: UInt16
    /// The largest message the endpoint can receive (`a=max-message-size`); 0 means
    /// no limit (RFC 8841 §6).
    public var maxMessageSize: Int
    /// The largest datagram the endpoint takes on a path local to both ends
    /// (`a=x-fugitive-max-datagram`, FugitiveRTC's own attribute, which other
    /// implementations ignore); `nil` when absent: 1200-byte datagrams are sent then.
    public var maxDatagramSize: Int?
    /// The ICE candidates listed in the description.
    public var candidates: [IceCandidate]
    /// Whether the endpoint has finished gathering (`a=end-of-candidates`).
    public var endOfCandidates: Bool
    /// The address of the `c=` line, kept as received; `0.0.0.0` when generated.
    public var connectionAddress: String
    /// The port of the `m=` line, kept as received; 9 (discard) when generated.
    public var port: UInt16
    /// The media sections other than the data channel section; see the type's overview.
    public var skippedMedia: [SkippedMediaSection]

    /// Whether the endpoint accepts trickled candidates (`a=ice-options:trickle`).
    public var supportsTrickle: Bool { iceOptions.contains("trickle") }

    /// The ICE credentials, if they are valid (parsed descriptions always have valid ones).
    public var iceCredentials: IceCredentials? { IceCredentials(ufrag: iceUfrag, password: icePwd) }

    init(
        kind: Kind,
        sessionId: UInt64,
        sessionVersion: UInt64,
        iceUfrag: String,
        icePwd: String,
        iceOptions: [String],
        iceLite: Bool,
        fingerprint: Fingerprint,
        setup: SetupRole,
        mid: String,
        sctpPort: UInt16,
        maxMessageSize: Int,
        maxDatagramSize: Int?,
        candidates: [IceCandidate],
        endOfCandidates: Bool,
        connectionAddress: String,
        port: UInt16,
        skippedMedia: [SkippedMediaSection]
    ) {
        self.kind = kind
        self.sessionId = sessionId
        self.sessionVersion = sessionVersion
        self.iceUfrag = iceUfrag
        self.icePwd = icePwd
        self.iceOptions = iceOptions
        self.iceLite = iceLite
        self.fingerprint = fingerprint
        self.setup = setup
        self.mid = mid
        self.sctpPort = sctpPort
        self.maxMessageSize = maxMessageSize
        self.maxDatagramSize = maxDatagramSize
        self.candidates = candidates
        self.endOfCandidates = endOfCandidates
        self.connectionAddress = connectionAddress
        self.port = port
        self.skippedMedia = skippedMedia
    }

    /// Parses an SDP text received from the other peer.
    ///
    /// - Parameters:
    ///   - kind: Whether the text is an offer or an answer (the `type` that travels
    ///     next to `sdp` in signalling); it decides which `a=setup` values are valid.
    ///   - sdp: The description.
    /// - Throws: ``SDPError``; see ``SDPError/Code`` for the cases.
    public init(kind: Kind, sdp: String) throws(SDPError) {
        self = try SessionDescriptionParser.parse(kind: kind, sdp: sdp)
    }

    /// Builds a description of the local endpoint, ready for ``sdp``.
    ///
    /// - Parameters:
    ///   - kind: Offer or answer.
    ///   - ufrag: The ICE ufrag; must satisfy ``IceCredentials/isValidUfrag(_:)``
    ///     (use ``IceCredentials/random(ufragLength:passwordLength:)``).
    ///   - pwd: The ICE password; must satisfy ``IceCredentials/isValidPassword(_:)``.
    ///   - fingerprint: The SHA-256 fingerprint of the local DTLS certificate.
    ///   - setup: `actpass` for an offer; for an answer, ``SetupRole/answering(to:)``
    ///     applied to the remote offer's role.
    ///   - mid: The data channel section's mid; an answer must repeat the offer's.
    ///   - sctpPort: The local SCTP port.
    ///   - maxMessageSize: The largest message the local SCTP stack accepts.
    ///   - maxDatagramSize: The largest datagram accepted on a local path, when the
    ///     endpoint offers larger ones than WebRTC's 1200 bytes.
    ///   - candidates: Candidates gathered so far; empty when trickling them all.
    ///   - endOfCandidates: Whether gathering has finished.
    ///   - sessionId: The `o=` session id; a fresh random one when `nil`. Keep it for
    ///     the whole session and bump `sessionVersion` on renegotiation.
    ///   - sessionVersion: The `o=` session version.
    ///   - skippedMedia: For an answer, the remote offer's ``skippedMedia``, so that
    ///     they are rejected in place.
    public static func local(
        kind: Kind,
        ufrag: String,
        pwd: String,
        fingerprint: Fingerprint,
        setup: SetupRole,
        mid: String = "0",
        sctpPort: UInt16 = defaultSCTPPort,
        maxMessageSize: Int = advertisedMaxMessageSize,
        maxDatagramSize: Int? = nil,
        candidates: [IceCandidate] = [],
        endOfCandidates: Bool = false,
        sessionId: UInt64? = nil,
        sessionVersion: UInt64 = 1,
        skippedMedia: [SkippedMediaSection] = []
    ) -> SessionDescription {
        assert(IceCredentials(ufrag: ufrag, password: pwd) != nil, "invalid ICE credentials")
        assert(kind == .offer || setup != .actpass, "an answer must choose active or passive")
        var generator = SystemRandomNumberGenerator()
        return SessionDescription(
            kind: kind,
            sessionId: sessionId ?? randomSessionId(using: &generator),
            sessionVersion: sessionVersion,
            iceUfrag: ufrag,
            icePwd: pwd,
            iceOptions: ["trickle"],
            iceLite: false,
            fingerprint: fingerprint,
            setup: setup,
            mid: mid,
            sctpPort: sctpPort,
            maxMessageSize: maxMessageSize,
            maxDatagramSize: maxDatagramSize,
            candidates: candidates,
            endOfCandidates: endOfCandidates,
            connectionAddress: "0.0.0.0",
            port: 9,
            skippedMedia: skippedMedia
        )
    }

    /// A random `o=` session id below 2⁶³: RFC 3264 §5 requires the id to be
    /// representable as a signed 64-bit integer, which is how Chromium stores it.
    public static func randomSessionId<G: RandomNumberGenerator>(using generator: inout G) -> UInt64 {
        UInt64.random(in: 1...UInt64(Int64.max), using: &generator)
    }
}
