/// An error of the WebRTC stack, with a stable code to switch on and a message for
/// people.
public struct RTCError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong; new codes may be added.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: String, Hashable, Sendable {
            case certificate, signalling, iceFailed, sctpFailed, tlsSetup, handshakeFailed, fingerprintMismatch, notConnected, closed
        }
        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// A certificate could not be generated, loaded or read.
        public static let certificate = Code(.certificate)
        /// An offer/answer step out of order, or a description that cannot be used.
        public static let signalling = Code(.signalling)
        /// ICE could not start, refused a parameter, or found no working candidate pair.
        public static let iceFailed = Code(.iceFailed)
        /// The SCTP association could not be set up or broke.
        public static let sctpFailed = Code(.sctpFailed)
        /// OpenSSL refused to set up a DTLS context or session.
        public static let tlsSetup = Code(.tlsSetup)
        /// The DTLS handshake failed (alert, bad record, protocol error).
        public static let handshakeFailed = Code(.handshakeFailed)
        /// The remote certificate does not match the fingerprint in the remote SDP.
        public static let fingerprintMismatch = Code(.fingerprintMismatch)
        /// Data was sent before the transport was connected.
        public static let notConnected = Code(.notConnected)
        /// The transport is closed or failed.
        public static let closed = Code(.closed)

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
