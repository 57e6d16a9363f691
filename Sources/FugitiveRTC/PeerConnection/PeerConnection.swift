import Logging
import Synchronization

/// A WebRTC peer connection for data channels only: ICE (libnice) carries DTLS
/// (OpenSSL), which carries SCTP (usrsctp), which carries the channels (DCEP).
///
/// Signalling is the caller's: exchange ``createOffer()`` / ``createAnswer()`` and
/// ``setRemoteDescription(_:)``, and trickle ``localCandidates`` one way and
/// ``addRemoteCandidate(_:)`` the other. The offerer controls ICE; the answerer picks
/// DTLS `active` (it is the DTLS client), as browsers do.
public final class PeerConnection: Sendable {
    /// Settings for one connection.
    public struct Configuration: Sendable {
        /// The STUN server used to find a server-reflexive candidate (an IP address:
        /// libnice does not resolve names).
        public var stunServer: (host: String, port: UInt16)?
        /// TURN servers (UDP) for relayed candidates.
        public var turnServers: [IceAgent.TurnServer]
        /// Local UDP ports to use; `nil` lets the system choose.
        public var portRange: ClosedRange<UInt16>?
        /// Only these local addresses are used (`["127.0.0.1"]` in tests); empty = all.
        public var localAddresses: [String]
        /// The DTLS certificate; a fresh one is generated when `nil`.
        public var certificate: DTLSCertificate?
        /// The largest message this side accepts, advertised in the SDP.
        public var maxMessageSize: Int
        /// The largest datagram this side sends (DTLS records, SCTP packets inside them)
        /// on any path not known to be local. 1200 bytes passes every path WebRTC runs
        /// on; raise it only for a network known to carry more between peers that take it.
        public var mtu: Int
        /// The largest datagram used when the selected pair's path is local (the peer is
        /// on this machine, or on a network attached to the local candidate's interface,
        /// whose MTU then also bounds it) and the peer advertised that it takes larger
        /// datagrams (`a=x-fugitive-max-datagram`, which only FugitiveRTC sends). SCTP
        /// packets then fill DTLS records of up to 16 000 bytes (a 16 KiB message in two
        /// instead of fifteen), and the records of one burst share a datagram. Advertised
        /// as what this side takes; 0 turns the extension off.
        public var localPathMTU: Int
        /// Bytes of received messages that may wait for the channels' readers. Beyond it
        /// the connection stops reading, SCTP's receive window closes and the peer's sends
        /// wait (usrsctp buffers up to 4 MiB more below it).
        public var receiveBufferSize: Int

        public init(
            stunServer: (host: String, port: UInt16)? = nil, turnServers: [IceAgent.TurnServer] = [],
            portRange: ClosedRange<UInt16>? = nil, localAddresses: [String] = [],
            certificate: DTLSCertificate? = nil, maxMessageSize: Int = SessionDescription.advertisedMaxMessageSize, mtu: Int = 1200,
            localPathMTU: Int = Configuration.defaultLocalPathMTU, receiveBufferSize: Int = 1 << 20
        ) {
            self.stunServer = stunServer
            self.turnServers = turnServers
            self.portRange = portRange
            self.localAddresses = localAddresses
            self.certificate = certificate
            self.maxMessageSize = maxMessageSize
            self.mtu = mtu
            self.localPathMTU = localPathMTU
            self.receiveBufferSize = receiveBufferSize
        }

        /// A whole loopback datagram: records of up to ``largestRecordDatagram`` bytes,
        /// several to a datagram.
        public static let defaultLocalPathMTU = LocalPath.loopbackDatagramLimit

        /// A DTLS record carries at most 16 KiB of plaintext, so one SCTP packet travels
        /// in at most this much (with 16 449 bytes the association broke here); larger
        /// datagrams hold several records.
        static let largestRecordDatagram = 16_000

        /// What this side advertises in its descriptions.
        var advertisedDatagramSize: Int? { localPathMTU > mtu ? localPathMTU : nil }
    }

    /// Where the connection stands.
    public enum State: Sendable, Equatable {
        case new, connecting, connected, closed
        case failed(RTCError)
    }

    /// Local candidates to trickle to the peer, then an end-of-candidates marker.
    public let localCandidates: AsyncStream<TrickledCandidate>
    /// State changes, in order; ends when the connection closes or fails.
    public let states: AsyncStream<State>
    /// Channels the peer opened.
    public let incomingChannels: AsyncStream<DataChannel>

    let configuration: Configuration
    let certificate: DTLSCertificate
    let loop: GLibEventLoop
    let logger: Logger
    let core: Mutex<Core>
    /// The receive path's record buffer; its lock is taken before `core`'s, never after.
    let receiving = Mutex(DTLSRecordBuffer())
    let candidateSink: AsyncStream<TrickledCandidate>.Continuation
    let stateSink: AsyncStream<State>.Continuation
    let channelSink: AsyncStream<DataChannel>.Continuation

    /// - Parameter loop: the GLib loop libnice runs on; one may serve many connections.
    public init(configuration: Configuration = .init(), loop: GLibEventLoop, logger: Logger) throws(RTCError) {
        self.configuration = configuration
        if let certificate = configuration.certificate {
            self.certificate = certificate
        } else {
            self.certificate = try DTLSCertificate()
        }
        self.loop = loop
        self.logger = logger
        self.core = Mutex(Core())
        (localCandidates, candidateSink) = AsyncStream.makeStream(of: TrickledCandidate.self)
        (states, stateSink) = AsyncStream.makeStream(of: State.self)
        (incomingChannels, channelSink) = AsyncStream.makeStream(of: DataChannel.self)
    }

    deinit { close() }

    // MARK: Signalling

    /// Makes this side the offerer and returns its offer; candidate gathering starts.
    public func createOffer() throws(RTCError) -> SessionDescription {
        try core.withLock { core throws(RTCError) in try core.lifecycle.claimOfferer() }
        let ice = try startICE(controlling: true)
        let offer = SessionDescription.local(
            kind: .offer, ufrag: ice.credentials.ufrag, pwd: ice.credentials.password, fingerprint: certificate.fingerprint,
            setup: .actpass, maxMessageSize: configuration.maxMessageSize, maxDatagramSize: configuration.advertisedDatagramSize)
        core.withLock { $0.lifecycle.localDescriptionCreated(offer) }
        return offer
    }

    /// Returns the answer to the remote offer set with ``setRemoteDescription(_:)``.
    public func createAnswer() throws(RTCError) -> SessionDescription {
        try core.withLock { core throws(RTCError) -> SessionDescription in
            let (ice, remote) = try core.lifecycle.answering()
            let answer = SessionDescription.local(
                kind: .answer, ufrag: ice.credentials.ufrag, pwd: ice.credentials.password, fingerprint: certificate.fingerprint,
                setup: SetupRole.answering(to: remote.setup), mid: remote.mid, maxMessageSize: configuration.maxMessageSize,
                maxDatagramSize: configuration.advertisedDatagramSize)
            core.lifecycle.localDescriptionCreated(answer)
            return answer
        }
    }

    /// Applies the peer's offer (this side becomes the answerer) or answer.
    public func setRemoteDescription(_ remote: SessionDescription) throws(RTCError) {
        let ourSetup: SetupRole
        switch remote.kind {
        case .offer:
            try core.withLock { core throws(RTCError) in try core.lifecycle.claimAnswerer(offer: remote) }
            _ = try startICE(controlling: false)
            ourSetup = SetupRole.answering(to: remote.setup)
        case .answer:
            try core.withLock { core throws(RTCError) in try core.lifecycle.remoteAnswerReceived(remote) }
            // Their active means we are passive (the DTLS server), and the other way round.
            ourSetup = remote.setup == .active ? .passive : .active
        }
        guard let dtlsRole = ourSetup.dtlsRole else { throw RTCError(.signalling, "the remote setup \(remote.setup) leaves no DTLS role") }
        let (certificate, mtu) = (certificate, configuration.mtu)
        let (ice, queued) = try core.withLock { core throws(RTCError) in
            // Made under the lock: the session never leaves it.
            let session = try DTLSSession(certificate: certificate, role: dtlsRole, remoteFingerprint: remote.fingerprint, mtu: mtu)
            return try core.lifecycle.sessionCreated(session, role: dtlsRole)
        }
        guard let ice else { throw RTCError(.signalling, "no ICE agent") }
        guard let credentials = remote.iceCredentials else { throw RTCError(.signalling, "invalid remote ICE credentials") }
        try ice.setRemoteCredentials(credentials)
        core.withLock { $0.lifecycle.remoteCredentialsSet() }
        for candidate in remote.candidates + queued { try? ice.addRemoteCandidate(candidate) }
        if remote.endOfCandidates { ice.endOfRemoteCandidates() }
        if let state = core.withLock({ $0.lifecycle.remoteDescriptionApplied() }) { stateSink.yield(state) }
        // Datagrams that came before the DTLS role was known, and a start if ICE is up.
        let early = core.withLock { $0.lifecycle.takeEarlyDatagrams() }
        for datagram in early { datagram.withUnsafeBytes { handleDatagram($0) } }
        startDTLSIfReady()
    }

    /// Adds a candidate the peer trickled (or its end-of-candidates marker).
    public func addRemoteCandidate(_ trickled: TrickledCandidate) {
        // Queued until the remote description is applied.
        guard case .deliver(let ice) = core.withLock({ $0.lifecycle.remoteCandidateArrived(trickled.candidate) }) else { return }
        if let candidate = trickled.candidate {
            do { try ice.addRemoteCandidate(candidate) } catch { logger.debug("remote candidate ignored", metadata: ["error": "\(error)"]) }
        } else {
            ice.endOfRemoteCandidates()
        }
    }

    // MARK: Channels

    /// Opens a channel; returns once the peer acknowledged it (waits for the
    /// connection to be up first) — or, with `waitingForAck` false and an ordered channel,
    /// as soon as the open is sent: RFC 8832 §6 lets the opener send at once, since the open
    /// and the messages after it arrive in order on the channel's stream. That saves a
    /// round trip of a link's setup; a peer that refuses the channel resets the stream
    /// and the channel closes.
    public func createDataChannel(
        label: String, ordered: Bool = true, protocol: String = "", waitingForAck: Bool = true
    ) async throws(RTCError) -> DataChannel {
        try await waitUntilConnected()
        let reliability = DCEP.Reliability(ordered: ordered, limit: nil)
        let (channel, sctp) = try core.withLock { core throws(RTCError) in
            try core.lifecycle.openChannel { DataChannel(label: label, id: $0, reliability: reliability, connection: self) }
        }
        let open = DCEP.Open(reliability: reliability, priority: 0, label: label, protocol: `protocol`)
        let sendOpen = {
            _ = sctp.send(stream: channel.id, ppid: DCEP.PPID.control.rawValue, data: DCEP.serialize(.open(open)), reliability: .reliableOrdered)
        }
        guard waitingForAck || !ordered else {
            sendOpen()
            return channel
        }
        try await waitForAck(on: channel.id, afterSending: sendOpen)
        return channel
    }

    /// Numbers of one connection.
    public struct Statistics: Sendable, Equatable {
        /// Datagrams and bytes through DTLS once it is connected (SCTP's packets).
        public struct Counters: Sendable, Equatable {
            public var datagramsSent = 0
            public var bytesSent = 0
            /// Never above ``Statistics/datagramSize``.
            public var largestDatagramSent = 0
            public var datagramsReceived = 0
            public var bytesReceived = 0
        }

        public var state: State
        public var counters: Counters
        /// The largest datagram this side sends on the connection: ``Configuration/mtu``,
        /// or more on a local path to a peer that takes more (see
        /// ``Configuration/localPathMTU``); decided when DTLS connects.
        public var datagramSize: Int
        /// The candidate pair ICE selected.
        public var selectedLocalCandidate: IceCandidate?
        public var selectedRemoteCandidate: IceCandidate?
        /// SCTP's smoothed round-trip time.
        public var rttMilliseconds: Int?
        /// Chunks SCTP holds for sending or acknowledgement, all channels together (SCTP
        /// keeps one send buffer per association, not per stream).
        public var bufferedChunks: Int?
        public var channels: [DataChannel.Statistics]
    }

    /// A snapshot of the connection's numbers.
    public func statistics() -> Statistics {
        let (state, counters, datagramSize, ice, sctp, channels) = core.withLock {
            (
                $0.lifecycle.publicState, $0.counters, $0.lifecycle.datagramSize ?? configuration.mtu, $0.lifecycle.ice, $0.lifecycle.association,
                $0.lifecycle.channels
            )
        }
        let pair = ice?.selectedPair()
        let status = sctp?.status()
        return Statistics(
            state: state, counters: counters, datagramSize: datagramSize, selectedLocalCandidate: pair?.local, selectedRemoteCandidate: pair?.remote,
            rttMilliseconds: status?.rttMilliseconds, bufferedChunks: status?.bufferedChunks,
            channels: channels.sorted { $0.id < $1.id }.map(\.statistics))
    }

    /// Closes everything: channels, SCTP (abort), DTLS (close_notify), ICE.
    public func close() {
        shutDown(.closed)
    }
}

extension PeerConnection.State {
    var isFinal: Bool {
        switch self {
        case .closed, .failed: true
        case .new, .connecting, .connected: false
        }
    }
}
