/// DTLS and SCTP coming up, and the end: the events from ICE connected on.
extension PeerConnectionStateMachine {
    /// Whether the handshake starts now.
    enum HandshakeAction: Sendable {
        /// Start `session` (its first flight goes over `ice`), then replay `early`.
        case start(session: Session, ice: Ice, early: [[UInt8]])
        /// Not yet (ICE not connected, or no remote description), or not any more.
        case ignore
    }

    /// What becomes of a datagram from ICE.
    enum DatagramAction: Sendable {
        /// DTLS has not started: kept for when it does.
        case buffered
        /// Dropped: the early buffer is full, or the connection has no use for it.
        case dropped
        /// DTLS takes it.
        case decrypt(Receiver)
    }

    /// What decrypting a datagram needs.
    struct Receiver: Sendable {
        let session: Session
        /// Where replies (handshake flights, alerts) go.
        let ice: Ice
        /// Where the records go, once DTLS connected.
        let association: Association?
        /// While the handshake runs: what sizing the association needs when it completes.
        let handshake: Handshake?
    }

    /// What the association is sized from when the handshake completes.
    struct Handshake: Sendable, Equatable {
        let remote: SessionDescription?
        let localPathLimit: Int?
    }

    /// Whether a retransmission timer's expiry still matters.
    enum RetransmitAction: Sendable {
        /// Let `session` retransmit its flight over `ice`.
        case retransmit(session: Session, ice: Ice)
        case ignore
    }

    /// What SCTP coming up means.
    enum UpAction: Sendable {
        /// Announce `connected`, then resume these waiters.
        case announceConnected(waiters: [Waiter])
        case ignore
    }

    /// What a close asks for.
    enum CloseAction: Sendable {
        case tearDown(Teardown)
        /// Already ended: a second close, or a failure after the close.
        case ignore
    }

    /// What a close took out of the live phase, for the connection to release in this
    /// order: the association (abort), the session's close_notify over ICE, ICE, the
    /// channels, the waiters (failed with `closed`) and writers; then the announcement
    /// of ``outcome``.
    struct Teardown: Sendable {
        let outcome: Outcome
        let ice: Ice?
        /// Made whenever the remote description came, started or not: it says
        /// close_notify (if ICE can carry it) either way.
        let session: Session?
        let association: Association?
        let channels: [Channel]
        /// Waiters for SCTP up, then for DCEP acks.
        let waiters: [Waiter]
        let writers: [Writer]
    }

    // MARK: DTLS

    /// Starts the handshake once ICE can send and the session is made; whichever came
    /// last calls this.
    mutating func startHandshakeIfReady() -> HandshakeAction {
        switch state {
        case .iceConnected(let phase):
            guard let dtls = phase.dtls else { return .ignore }
            state = .dtlsHandshaking(
                Handshaking(
                    signalling: phase.signalling, ice: phase.ice, localPathLimit: phase.localPathLimit, dtls: dtls, upWaiters: phase.upWaiters))
            return .start(session: dtls.session, ice: phase.ice, early: phase.early)
        case .new, .iceConnecting, .dtlsHandshaking, .dtlsConnected, .sctpUp, .closing, .closed:
            return .ignore
        }
    }

    /// A datagram from ICE: DTLS takes it once it started; before, it is copied and kept
    /// (at most ``earlyLimit``).
    mutating func datagramArrived(_ datagram: UnsafeRawBufferPointer) -> DatagramAction {
        switch state {
        case .iceConnecting(var phase):
            guard phase.early.count < Self.earlyLimit else { return .dropped }
            phase.early.append(Array(datagram))
            state = .iceConnecting(phase)
            return .buffered
        case .iceConnected(var phase):
            guard phase.early.count < Self.earlyLimit else { return .dropped }
            phase.early.append(Array(datagram))
            state = .iceConnected(phase)
            return .buffered
        case .dtlsHandshaking(let phase):
            let handshake = Handshake(remote: phase.signalling.remote, localPathLimit: phase.localPathLimit)
            return .decrypt(Receiver(session: phase.dtls.session, ice: phase.ice, association: nil, handshake: handshake))
        case .dtlsConnected(let secured, _), .sctpUp(let secured):
            return .decrypt(Receiver(session: secured.dtls.session, ice: secured.ice, association: secured.association, handshake: nil))
        // No agent yet, or the connection ended.
        case .new, .closing, .closed:
            return .dropped
        }
    }

    /// The handshake completed and `association` was made over it, for datagrams of
    /// `datagramSize`. False (and the association is not kept) outside the handshake.
    mutating func handshakeCompleted(association: Association, datagramSize: Int) -> Bool {
        switch state {
        case .dtlsHandshaking(let phase):
            let secured = Secured(
                signalling: phase.signalling, ice: phase.ice, dtls: phase.dtls, association: association, datagramSize: datagramSize)
            state = .dtlsConnected(secured, upWaiters: phase.upWaiters)
            return true
        case .new, .iceConnecting, .iceConnected, .dtlsConnected, .sctpUp, .closing, .closed:
            return false
        }
    }

    /// The session whose handshake may run a retransmission timer.
    var handshakingSession: Session? {
        switch state {
        case .dtlsHandshaking(let phase): phase.dtls.session
        case .new, .iceConnecting, .iceConnected, .dtlsConnected, .sctpUp, .closing, .closed: nil
        }
    }

    /// A retransmission timer is armed: returns its generation (`nil` outside the
    /// handshake), which makes any older timer stale.
    mutating func retransmissionScheduled() -> Int? {
        switch state {
        case .dtlsHandshaking(var phase):
            phase.retransmitGeneration += 1
            state = .dtlsHandshaking(phase)
            return phase.retransmitGeneration
        case .new, .iceConnecting, .iceConnected, .dtlsConnected, .sctpUp, .closing, .closed:
            return nil
        }
    }

    /// The timer of `generation` expired.
    func retransmissionDue(_ generation: Int) -> RetransmitAction {
        switch state {
        case .dtlsHandshaking(let phase) where phase.retransmitGeneration == generation:
            .retransmit(session: phase.dtls.session, ice: phase.ice)
        // A stale timer, a completed handshake, or an ended connection.
        case .new, .iceConnecting, .iceConnected, .dtlsHandshaking, .dtlsConnected, .sctpUp, .closing, .closed:
            .ignore
        }
    }

    /// The session and agent usrsctp's packets leave through, once DTLS connected.
    var transmitPath: (session: Session, ice: Ice)? { secured.map { ($0.dtls.session, $0.ice) } }

    /// DTLS failed (an alert, a bad record, the peer's fingerprint, no answer).
    mutating func dtlsFailed(_ error: RTCError) -> CloseAction {
        close(.failed(error))
    }

    // MARK: SCTP

    /// The association is established.
    mutating func associationUp() -> UpAction {
        switch state {
        case .dtlsConnected(let secured, let upWaiters):
            state = .sctpUp(secured)
            return .announceConnected(waiters: Array(upWaiters.values))
        // A repeated event, or one after the close.
        case .new, .iceConnecting, .iceConnected, .dtlsHandshaking, .sctpUp, .closing, .closed:
            return .ignore
        }
    }

    // MARK: The end

    /// Ends the connection with `outcome`: the live phase's parts come out to be torn
    /// down (outside the lock), and the phase is ``State/closing``. Idempotent.
    mutating func close(_ outcome: Outcome) -> CloseAction {
        let teardown: Teardown
        let datagramSize = self.datagramSize
        switch state {
        case .new(let phase):
            teardown = Teardown(
                outcome: outcome, ice: nil, session: nil, association: nil, channels: [], waiters: Array(phase.upWaiters.values), writers: [])
        case .iceConnecting(let phase):
            teardown = Teardown(
                outcome: outcome, ice: phase.ice, session: phase.dtls?.session, association: nil, channels: [],
                waiters: Array(phase.upWaiters.values), writers: [])
        case .iceConnected(let phase):
            teardown = Teardown(
                outcome: outcome, ice: phase.ice, session: phase.dtls?.session, association: nil, channels: [],
                waiters: Array(phase.upWaiters.values), writers: [])
        case .dtlsHandshaking(let phase):
            teardown = Teardown(
                outcome: outcome, ice: phase.ice, session: phase.dtls.session, association: nil, channels: [],
                waiters: Array(phase.upWaiters.values), writers: [])
        case .dtlsConnected(let secured, let upWaiters):
            teardown = Self.teardown(of: secured, upWaiters: Array(upWaiters.values), outcome: outcome)
        case .sctpUp(let secured):
            teardown = Self.teardown(of: secured, upWaiters: [], outcome: outcome)
        case .closing, .closed:
            return .ignore
        }
        state = .closing(Ended(outcome: outcome, datagramSize: datagramSize))
        return .tearDown(teardown)
    }

    /// The teardown of a close is done: the connection is closed.
    mutating func teardownFinished() {
        switch state {
        case .closing(let ended):
            state = .closed(ended)
        case .new, .iceConnecting, .iceConnected, .dtlsHandshaking, .dtlsConnected, .sctpUp, .closed:
            break
        }
    }

    private static func teardown(of secured: Secured, upWaiters: [Waiter], outcome: Outcome) -> Teardown {
        Teardown(
            outcome: outcome, ice: secured.ice, session: secured.dtls.session, association: secured.association,
            channels: Array(secured.channels.open.values), waiters: upWaiters + secured.channels.ackWaiters.values,
            writers: Array(secured.channels.writableWaiters.values))
    }
}

extension PeerConnectionStateMachine.HandshakeAction: Equatable where Parts: EquatablePeerConnectionParts {}
extension PeerConnectionStateMachine.DatagramAction: Equatable where Parts: EquatablePeerConnectionParts {}
extension PeerConnectionStateMachine.Receiver: Equatable where Parts: EquatablePeerConnectionParts {}
extension PeerConnectionStateMachine.RetransmitAction: Equatable where Parts: EquatablePeerConnectionParts {}
extension PeerConnectionStateMachine.UpAction: Equatable where Parts: EquatablePeerConnectionParts {}
extension PeerConnectionStateMachine.CloseAction: Equatable where Parts: EquatablePeerConnectionParts {}
extension PeerConnectionStateMachine.Teardown: Equatable where Parts: EquatablePeerConnectionParts {}
