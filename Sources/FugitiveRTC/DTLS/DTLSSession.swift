import COpenSSL
import CFugitiveRTCShim

/// One DTLS 1.2 association over datagrams the caller carries (ICE below it, SCTP above
/// it). It never touches a socket: the caller feeds it received datagrams and sends the
/// datagrams it returns, and asks it to retransmit when ``retransmissionDelay`` elapses.
/// Not thread-safe (hence unchecked `Sendable`): its owner serialises every call (the
/// peer connection does so under its lock).
///
/// The peer's certificate is self-signed, so chain checks are off; what authenticates
/// it is its SHA-256 fingerprint, which must equal the one in the remote SDP — a
/// mismatch fails the session with ``RTCError/Code/fingerprintMismatch``.
public final class DTLSSession: @unchecked Sendable {
    /// Where the session stands.
    public enum State: Equatable, Sendable {
        case handshaking
        case connected
        /// The peer sent close_notify, or ``close()`` was called.
        case closed
        case failed(RTCError)
    }

    /// What one received datagram produced.
    public struct Delivery {
        /// Datagrams to send to the peer (handshake flights, alerts).
        public var outgoing: [[UInt8]] = []
        /// Application data that arrived, one element per DTLS record.
        public var received: [[UInt8]] = []
    }

    /// Our role: `client` (a=setup:active) starts the handshake.
    public let role: DTLSRole
    public private(set) var state = State.handshaking
    /// The SRTP profile is negotiated only because aiortc refuses a handshake without
    /// one; no media ever uses it.
    static let srtpProfiles = "SRTP_AES128_CM_SHA1_80"

    private let expectedFingerprint: Fingerprint
    private let context: OpaquePointer
    private let ssl: OpaquePointer
    private let pipe: DatagramBIO
    private let certificate: DTLSCertificate
    /// Where ``receive(_:)`` decrypts records (the array-returning form).
    private lazy var records = DTLSRecordBuffer()

    /// Bytes a DTLS 1.2 record may add to its plaintext: a 13-byte header plus, at worst,
    /// a CBC suite's 16-byte IV, 20-byte MAC and 16 bytes of padding (AES-GCM adds 24).
    public static let maxRecordOverhead = 13 + 16 + 20 + 16
    /// The largest UDP payload, and room for OpenSSL's alignment.
    static let readBufferLength = 65_536 + 512

    /// - Parameters:
    ///   - remoteFingerprint: the fingerprint from the remote SDP.
    ///   - mtu: the largest datagram to write; 1200 bytes passes every path WebRTC runs on.
    public init(certificate: DTLSCertificate, role: DTLSRole, remoteFingerprint: Fingerprint, mtu: Int = 1200) throws(RTCError) {
        guard let context = SSL_CTX_new(DTLS_method()) else { throw Self.setupFailure("SSL_CTX_new") }
        // A datagram may hold several records (a peer on a local path coalesces them into
        // up to 64 KiB); OpenSSL reads a whole datagram into this buffer, and would lose
        // what does not fit its default of one record.
        SSL_CTX_set_default_read_buffer_len(context, Self.readBufferLength)
        // Accept any chain: the fingerprint check after the handshake is the authentication.
        SSL_CTX_set_verify(context, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT) { _, _ in 1 }
        guard SSL_CTX_use_certificate(context, certificate.x509) == 1,
            SSL_CTX_use_PrivateKey(context, certificate.key) == 1,
            SSL_CTX_ctrl(context, SSL_CTRL_SET_MIN_PROTO_VERSION, Int(DTLS1_2_VERSION), nil) == 1,
            SSL_CTX_set_tlsext_use_srtp(context, Self.srtpProfiles) == 0,
            let ssl = SSL_new(context)
        else {
            SSL_CTX_free(context)
            throw Self.setupFailure("DTLS context")
        }
        let pipe: DatagramBIO
        do {
            pipe = try DatagramBIO()
        } catch {
            SSL_free(ssl)
            SSL_CTX_free(context)
            throw error
        }
        SSL_set_bio(ssl, pipe.bio, pipe.bio)
        SSL_set_options(ssl, fugitive_ssl_op_no_query_mtu())
        _ = fugitive_ssl_set_mtu(ssl, mtu)
        switch role {
        case .client: SSL_set_connect_state(ssl)
        case .server: SSL_set_accept_state(ssl)
        }
        self.role = role
        self.expectedFingerprint = remoteFingerprint
        self.context = context
        self.ssl = ssl
        self.pipe = pipe
        self.certificate = certificate
    }

    deinit {
        SSL_free(ssl)  // frees the BIO too
        SSL_CTX_free(context)
    }

    /// Starts the handshake; the client's first flight comes back (nothing for a server).
    public func start() -> [[UInt8]] {
        guard state == .handshaking else { return [] }
        advanceHandshake()
        return pipe.takeOutgoing()
    }

    /// Handles one datagram from the peer.
    public func receive(_ datagram: [UInt8]) -> Delivery {
        let records = records
        let outgoing = datagram.withUnsafeBytes { receive($0, into: records) }
        return Delivery(outgoing: outgoing, received: (0..<records.count).map { Array(records[$0]) })
    }

    /// Handles one datagram from the peer without copying it: the application data it
    /// carried is decrypted into `records` (valid until the next call with the same
    /// buffer). Returns the datagrams to send back (handshake flights, alerts).
    public func receive(_ datagram: UnsafeRawBufferPointer, into records: DTLSRecordBuffer) -> [[UInt8]] {
        records.removeAll()
        switch state {
        case .closed, .failed: return []
        case .handshaking, .connected: break
        }
        // An empty read is end-of-file to OpenSSL, which would end the session; an empty
        // datagram carries nothing, so it is dropped here.
        guard !datagram.isEmpty else { return [] }
        ERR_clear_error()
        pipe.feed(datagram)
        if state == .handshaking { advanceHandshake() }
        if state == .connected { readRecords(into: records) }
        pipe.discardIncoming()
        return pipe.takeOutgoing()
    }

    /// Encrypts `payload` as one record; returns the datagram(s) to send.
    public func send(_ payload: [UInt8]) throws(RTCError) -> [[UInt8]] {
        var datagrams: [[UInt8]] = []
        let result = payload.withUnsafeBytes { bytes in Result { () throws(RTCError) in try send(bytes) { datagrams.append(Array($0)) } } }
        try result.get()
        return datagrams
    }

    /// Encrypts `payload` as one record and hands each datagram to `emit` as it is
    /// written, without copying it (the pointer is valid during the call only).
    public func send(_ payload: UnsafeRawBufferPointer, emit: (UnsafeRawBufferPointer) -> Void) throws(RTCError) {
        switch state {
        case .connected: break
        case .handshaking: throw RTCError(.notConnected, "the DTLS handshake has not finished")
        case .closed: throw RTCError(.closed, "the DTLS session is closed")
        case .failed(let error): throw RTCError(.closed, "the DTLS session failed: \(error)")
        }
        ERR_clear_error()
        let written = pipe.emitting(to: emit) { SSL_write(ssl, payload.baseAddress, Int32(payload.count)) }
        guard written == payload.count else {
            let error = RTCError(.closed, "SSL_write failed\(OpenSSLErrors.drain())")
            state = .failed(error)
            throw error
        }
    }

    /// Changes the largest datagram written (set before the handshake at `init`; raised
    /// after it once the path is known to carry more).
    public func setMTU(_ mtu: Int) {
        _ = fugitive_ssl_set_mtu(ssl, mtu)
    }

    /// How long until the current handshake flight should be retransmitted, or `nil`
    /// when no timer runs.
    public var retransmissionDelay: Duration? {
        var left = timeval()
        guard state == .handshaking, fugitive_dtls_get_timeout(ssl, &left) == 1 else { return nil }
        return .seconds(left.tv_sec) + .microseconds(left.tv_usec)
    }

    /// Retransmits the last flight if its timer expired; returns what to send. A
    /// handshake that exhausts its retransmissions fails.
    public func handleTimeout() -> [[UInt8]] {
        guard state == .handshaking else { return [] }
        ERR_clear_error()
        if fugitive_dtls_handle_timeout(ssl) < 0 {
            state = .failed(RTCError(.handshakeFailed, "the peer stopped answering the handshake\(OpenSSLErrors.drain())"))
        }
        return pipe.takeOutgoing()
    }

    /// Sends close_notify; returns the alert datagram to deliver.
    public func close() -> [[UInt8]] {
        guard state == .connected || state == .handshaking else { return [] }
        state = .closed
        ERR_clear_error()
        _ = SSL_shutdown(ssl)
        return pipe.takeOutgoing()
    }

    private func advanceHandshake() {
        let result = SSL_do_handshake(ssl)
        if result == 1 {
            verifyPeer()
            return
        }
        switch SSL_get_error(ssl, result) {
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
            return
        default:
            state = .failed(RTCError(.handshakeFailed, "DTLS handshake failed\(OpenSSLErrors.drain())"))
        }
    }

    private func verifyPeer() {
        guard let peer = SSL_get1_peer_certificate(ssl) else {
            state = .failed(RTCError(.handshakeFailed, "the peer sent no certificate"))
            return
        }
        defer { X509_free(peer) }
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        guard X509_digest(peer, EVP_sha256(), &digest, &length) == 1 else {
            state = .failed(RTCError(.handshakeFailed, "cannot digest the peer's certificate\(OpenSSLErrors.drain())"))
            return
        }
        guard Fingerprint(bytes: Array(digest.prefix(Int(length)))) == expectedFingerprint else {
            state = .failed(RTCError(.fingerprintMismatch, "the peer's certificate does not match the SDP's fingerprint"))
            // Tell the peer rather than leaving it waiting.
            _ = SSL_shutdown(ssl)
            return
        }
        state = .connected
    }

    private func readRecords(into records: DTLSRecordBuffer) {
        while true {
            let free = records.free
            let count = SSL_read(ssl, free.baseAddress, Int32(clamping: free.count))
            if count > 0 {
                records.appendRecord(ofLength: Int(count))
                continue
            }
            switch SSL_get_error(ssl, count) {
            case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
                return
            case SSL_ERROR_ZERO_RETURN:
                state = .closed
                return
            default:
                state = .failed(RTCError(.closed, "DTLS read failed\(OpenSSLErrors.drain())"))
                return
            }
        }
    }

    private static func setupFailure(_ step: String) -> RTCError {
        RTCError(.tlsSetup, "\(step) failed\(OpenSSLErrors.drain())")
    }
}
