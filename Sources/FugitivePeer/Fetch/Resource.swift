import FugitiveStore
import FugitiveWire

/// A fetched resource: its bytes (verified when they came from a peer), what they are,
/// where they came from and how long each phase took.
public struct Resource: Sendable, Hashable {
    public var url: String
    public var bytes: [UInt8]
    public var digest: ResourceDigest
    public var contentType: String?
    public var source: ResourceSource
    public var timings: FetchTimings
}

/// How long a fetch spent where.
public struct FetchTimings: Sendable, Hashable {
    /// From the call to the bytes.
    public var total: Duration = .zero
    /// Finding a trusted digest (HEAD, vouch), when it was needed.
    public var digest: Duration?
    /// Asking peers, when that was tried.
    public var peers: Duration?
    /// The origin request, when it was made.
    public var origin: Duration?
}

/// Why a fetch failed. Peers never make a fetch fail on their own: the origin is the
/// last resort, so these are about the origin, the deadline, the caller or the store.
public struct FetchError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: String, Hashable, Sendable {
            case invalidURL, originUnreachable, originStatus, digestMismatch, tooLarge, deadlineExceeded, cancelled, store
            case destinationRefused
        }
        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// Not an absolute `http(s)` URL.
        public static let invalidURL = Code(.invalidURL)
        /// The origin could not be reached (refused, reset, DNS, TLS).
        public static let originUnreachable = Code(.originUnreachable)
        /// The origin answered with a status other than 2xx.
        public static let originStatus = Code(.originStatus)
        /// The origin's bytes do not hash to the trusted digest (or its own `Repr-Digest`).
        public static let digestMismatch = Code(.digestMismatch)
        /// The resource is larger than the peer accepts.
        public static let tooLarge = Code(.tooLarge)
        /// The deadline passed before the bytes arrived.
        public static let deadlineExceeded = Code(.deadlineExceeded)
        /// The calling task was cancelled.
        public static let cancelled = Code(.cancelled)
        /// The store failed.
        public static let store = Code(.store)
        /// The ``DestinationPolicy`` refused the URL or a redirect hop (a non-public
        /// address, an origin off the allowlist, too many redirects).
        public static let destinationRefused = Code(.destinationRefused)

        public var description: String { value.rawValue }
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}
