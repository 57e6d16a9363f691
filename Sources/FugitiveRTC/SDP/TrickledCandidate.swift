/// A candidate sent on its own over signalling (Trickle ICE, RFC 8838), in the shape
/// of the browser's `RTCIceCandidateInit`: `{ candidate, sdpMid, usernameFragment }`.
///
/// A `nil` ``candidate`` means end-of-candidates for the section named by ``mid``.
/// Browsers signal that with a `null` candidate event, which JavaScript code usually
/// forwards as an empty `candidate` string; both map to `nil` here.
public struct TrickledCandidate: Sendable, Hashable {
    /// The candidate, or `nil` for end-of-candidates.
    public var candidate: IceCandidate?
    /// The `a=mid` of the media section the candidate belongs to (`sdpMid`).
    public var mid: String
    /// The ICE ufrag the candidate was gathered for, if the sender said.
    ///
    /// After an ICE restart this tells candidates of the old and new generation apart;
    /// Chromium also repeats it as the `ufrag` extension inside the candidate itself.
    public var usernameFragment: String?

    /// Creates a trickled candidate.
    /// - Parameters:
    ///   - candidate: The candidate, or `nil` for end-of-candidates.
    ///   - mid: The media section identifier (`sdpMid`).
    ///   - usernameFragment: The ICE ufrag the candidate belongs to, if known.
    public init(candidate: IceCandidate?, mid: String, usernameFragment: String? = nil) {
        self.candidate = candidate
        self.mid = mid
        self.usernameFragment = usernameFragment
    }

    /// Parses the `candidate` string of an `RTCIceCandidateInit`.
    ///
    /// - Parameters:
    ///   - candidateString: `candidate:…` (an `a=` prefix is tolerated). An empty or
    ///     blank string, or `end-of-candidates`, means end-of-candidates.
    ///   - mid: The `sdpMid`.
    ///   - usernameFragment: The `usernameFragment`, if present.
    /// - Throws: ``SDPError`` from ``IceCandidate/init(sdpAttribute:)``.
    public init(candidateString: String, mid: String, usernameFragment: String? = nil) throws(SDPError) {
        var text = SDPSyntax.trimmingWhitespace(Substring(candidateString))
        if text.hasPrefix("a=") { text = text.dropFirst(2) }
        if text.isEmpty || text == "end-of-candidates" {
            self.init(candidate: nil, mid: mid, usernameFragment: usernameFragment)
        } else {
            self.init(
                candidate: try IceCandidate(sdpAttribute: String(text)),
                mid: mid,
                usernameFragment: usernameFragment
            )
        }
    }

    /// An end-of-candidates marker for the section `mid`.
    public static func endOfCandidates(mid: String, usernameFragment: String? = nil) -> TrickledCandidate {
        TrickledCandidate(candidate: nil, mid: mid, usernameFragment: usernameFragment)
    }

    /// Whether this is an end-of-candidates marker.
    public var isEndOfCandidates: Bool { candidate == nil }

    /// The `candidate` string for an `RTCIceCandidateInit`: `candidate:…`, or the
    /// empty string for end-of-candidates, which `addIceCandidate` accepts as such.
    public var candidateString: String {
        candidate?.sdpAttribute ?? ""
    }
}
