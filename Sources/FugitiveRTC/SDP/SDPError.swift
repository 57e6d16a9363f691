/// An error raised while parsing a session description or one of its attributes.
///
/// The ``code`` is stable and meant for programmatic handling (for example to map a
/// remote peer's bad offer to a signalling error); ``message`` is for people and logs
/// and may change wording between releases.
public struct SDPError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A stable, closed-for-callers set of error codes.
    ///
    /// Modelled as a struct rather than a public enum so that new codes can be added
    /// without breaking exhaustive `switch` statements in client code.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Internal: String, Hashable, Sendable {
            case malformedLine = "malformed-line"
            case missingMediaSection = "missing-media-section"
            case noDataChannelSection = "no-data-channel-section"
            case missingICECredentials = "missing-ice-credentials"
            case invalidICECredentials = "invalid-ice-credentials"
            case missingFingerprint = "missing-fingerprint"
            case malformedFingerprint = "malformed-fingerprint"
            case unsupportedFingerprintAlgorithm = "unsupported-fingerprint-algorithm"
            case invalidSetupRole = "invalid-setup-role"
            case malformedCandidate = "malformed-candidate"
            case unsupportedCandidate = "unsupported-candidate"
        }

        private let value: Internal

        private init(_ value: Internal) {
            self.value = value
        }

        /// A short kebab-case name, suitable for logs and metrics labels.
        public var description: String { value.rawValue }

        /// A line is not of the form `<letter>=<value>`, or a known line or attribute
        /// has a value that cannot be parsed (bad number, too few fields, …).
        public static let malformedLine = Code(.malformedLine)
        /// The description has no `m=` line at all.
        public static let missingMediaSection = Code(.missingMediaSection)
        /// There are `m=` lines, but none is a usable (non-rejected) SCTP data channel section.
        public static let noDataChannelSection = Code(.noDataChannelSection)
        /// `a=ice-ufrag` or `a=ice-pwd` is absent at both media and session level.
        public static let missingICECredentials = Code(.missingICECredentials)
        /// The ICE ufrag or password is too short, too long, or uses characters outside `ice-char`.
        public static let invalidICECredentials = Code(.invalidICECredentials)
        /// No `a=fingerprint` attribute is present at all.
        public static let missingFingerprint = Code(.missingFingerprint)
        /// A `sha-256` fingerprint is present but is not 32 colon-separated hex bytes.
        public static let malformedFingerprint = Code(.malformedFingerprint)
        /// Fingerprints are present, but none uses `sha-256`.
        public static let unsupportedFingerprintAlgorithm = Code(.unsupportedFingerprintAlgorithm)
        /// The `a=setup` value is unknown, or not allowed for this kind of description
        /// (an answer may not say `actpass`).
        public static let invalidSetupRole = Code(.invalidSetupRole)
        /// A `candidate` attribute is syntactically wrong (missing fields, bad numbers, …).
        public static let malformedCandidate = Code(.malformedCandidate)
        /// A `candidate` attribute is well formed but uses a transport or candidate type
        /// this stack does not implement. Whole descriptions skip such candidates.
        public static let unsupportedCandidate = Code(.unsupportedCandidate)
    }

    /// What went wrong.
    public let code: Code
    /// The 1-based line number in the SDP text where the problem was found, if any.
    public let line: Int?
    /// A human-readable explanation.
    public let message: String

    /// Creates an error.
    /// - Parameters:
    ///   - code: The stable error code.
    ///   - line: The 1-based line number in the SDP text, when the error is tied to one line.
    ///   - message: A human-readable explanation.
    public init(_ code: Code, line: Int? = nil, message: String) {
        self.code = code
        self.line = line
        self.message = message
    }

    /// A one-line rendering for logs: `SDP <code> at line <n>: <message>`.
    public var description: String {
        if let line {
            return "SDP \(code) at line \(line): \(message)"
        }
        return "SDP \(code): \(message)"
    }

    /// The same error, attributed to `line` unless it already names one.
    func at(line: Int) -> SDPError {
        self.line == nil ? SDPError(code, line: line, message: message) : self
    }
}
