import FugitiveWire

/// Why a fetch from a peer failed; the pipeline then tries elsewhere.
public struct PeerLinkError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: String, Hashable, Sendable {
            case miss, busy, corrupted, closed, protocolViolation, stalled, tooSlow, overBudget, lostRace, cancelled
        }
        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// The peer does not hold the resource.
        public static let miss = Code(.miss)
        /// All its upload slots are taken.
        public static let busy = Code(.busy)
        /// The bytes did not hash to the requested digest: the peer lied or broke.
        public static let corrupted = Code(.corrupted)
        /// The link closed before the transfer finished.
        public static let closed = Code(.closed)
        /// The peer broke the protocol (chunk before head, bad sizes, …).
        public static let protocolViolation = Code(.protocolViolation)
        /// Nothing arrived for the stall timeout.
        public static let stalled = Code(.stalled)
        /// The transfer moved, but too slowly: under the least rate accepted, or at a pace
        /// that would not finish before the fetch's deadline. Counts against the peer.
        public static let tooSlow = Code(.tooSlow)
        /// Taking the transfer would go over this peer's ``DownloadBudget``: not the
        /// sender's fault, the fetch moves on.
        public static let overBudget = Code(.overBudget)
        /// Another peer answered first; this transfer was abandoned.
        public static let lostRace = Code(.lostRace)
        /// The fetching task was cancelled.
        public static let cancelled = Code(.cancelled)

        public var description: String { value.rawValue }
    }

    public let code: Code
    public let message: String
    /// The protocol error the sender is told (an `error` naming the request) instead of a
    /// plain `cancel`, when it broke the protocol.
    public let wireCode: WireErrorCode?

    public init(_ code: Code, _ message: String, wireCode: WireErrorCode? = nil) {
        self.code = code
        self.message = message
        self.wireCode = wireCode
    }

    /// The sender broke the protocol in a way `wireCode` names.
    static func violation(_ wireCode: WireErrorCode, _ message: String) -> PeerLinkError {
        PeerLinkError(.protocolViolation, message, wireCode: wireCode)
    }

    public var description: String { "\(code): \(message)" }
}
