/// Offer/answer, trickle and ICE: the events up to ICE connecting.
extension PeerConnectionStateMachine {
    /// What to do with a candidate the peer trickled (or its end-of-candidates marker).
    enum CandidateAction: Sendable {
        /// Hand it to this agent: it has the peer's credentials.
        case deliver(Ice)
        /// Kept until the remote description is applied.
        case queued
        /// Nowhere to go: an end marker before the credentials, or the connection ended.
        case dropped
    }

    /// Takes the offerer's role (``PeerConnection/createOffer()``); the connection then
    /// makes its ICE agent.
    mutating func claimOfferer() throws(RTCError) {
        switch state {
        case .new(let new):
            let signalling = Signalling(role: .offerer, queuedCandidates: new.queuedCandidates)
            state = .iceConnecting(IceConnecting(signalling: signalling, upWaiters: new.upWaiters))
        case .iceConnecting, .iceConnected, .dtlsHandshaking, .dtlsConnected, .sctpUp:
            throw RTCError(.signalling, "createOffer after the roles were set")
        case .closing, .closed:
            throw RTCError.connectionClosed
        }
    }

    /// Takes the answerer's role for the peer's `offer`; the connection then makes its
    /// ICE agent.
    mutating func claimAnswerer(offer: SessionDescription) throws(RTCError) {
        switch state {
        case .new(let new):
            let signalling = Signalling(role: .answerer, remote: offer, queuedCandidates: new.queuedCandidates)
            state = .iceConnecting(IceConnecting(signalling: signalling, upWaiters: new.upWaiters))
        case .iceConnecting, .iceConnected, .dtlsHandshaking, .dtlsConnected, .sctpUp:
            throw RTCError(.signalling, "a remote offer after the roles were set")
        case .closing, .closed:
            throw RTCError.connectionClosed
        }
    }

    /// The agent made after a claim. Refused when the connection closed meanwhile (the
    /// caller then closes the agent rather than leave it gathering for nobody).
    mutating func iceAgentCreated(_ ice: Ice) throws(RTCError) {
        switch state {
        case .iceConnecting(var phase) where phase.ice == nil:
            phase.ice = ice
            state = .iceConnecting(phase)
        case .new, .iceConnecting, .iceConnected, .dtlsHandshaking, .dtlsConnected, .sctpUp:
            throw RTCError(.signalling, "an ICE agent without a role that awaits one")
        case .closing, .closed:
            throw RTCError.connectionClosed
        }
    }

    /// Our offer or answer, as made; ignored once the connection ended.
    mutating func localDescriptionCreated(_ description: SessionDescription) {
        withSignalling { $0.local = description }
    }

    /// What an answer is made from: the agent (its credentials) and the peer's offer.
    func answering() throws(RTCError) -> (ice: Ice, offer: SessionDescription) {
        guard let signalling, signalling.role == .answerer, let offer = signalling.remote, let ice else {
            throw RTCError(.signalling, "createAnswer needs a remote offer first")
        }
        return (ice, offer)
    }

    /// The peer's answer to our offer.
    mutating func remoteAnswerReceived(_ answer: SessionDescription) throws(RTCError) {
        switch state {
        case .new:
            throw RTCError(.signalling, "an answer without our offer")
        case .iceConnecting, .iceConnected, .dtlsHandshaking, .dtlsConnected, .sctpUp:
            try withSignalling { signalling throws(RTCError) in
                guard signalling.role == .offerer, signalling.remote == nil else { throw RTCError(.signalling, "an answer without our offer") }
                signalling.remote = answer
            }
        case .closing, .closed:
            throw RTCError.connectionClosed
        }
    }

    /// The DTLS session for the remote description (made under the lock: it never
    /// leaves it). Returns the agent to give the peer's credentials and candidates to
    /// (`nil` if there is none) and the candidates queued so far, which it takes.
    mutating func sessionCreated(_ session: Session, role: DTLSRole) throws(RTCError) -> (ice: Ice?, queued: [IceCandidate]) {
        switch state {
        case .iceConnecting(var phase) where phase.dtls == nil:
            let queued = phase.signalling.queuedCandidates
            phase.signalling.queuedCandidates = []
            phase.dtls = DTLS(session: session, role: role)
            state = .iceConnecting(phase)
            return (phase.ice, queued)
        case .iceConnected(var phase) where phase.dtls == nil:
            let queued = phase.signalling.queuedCandidates
            phase.signalling.queuedCandidates = []
            phase.dtls = DTLS(session: session, role: role)
            state = .iceConnected(phase)
            return (phase.ice, queued)
        case .new, .iceConnecting, .iceConnected, .dtlsHandshaking, .dtlsConnected, .sctpUp:
            throw RTCError(.signalling, "a DTLS session the connection has no place for")
        case .closing, .closed:
            throw RTCError.connectionClosed
        }
    }

    /// ICE took the peer's credentials: its candidates go straight to the agent from now.
    mutating func remoteCredentialsSet() {
        withSignalling { $0.remoteCredentialsSet = true }
    }

    /// A candidate the peer trickled, or `nil` for its end-of-candidates marker.
    mutating func remoteCandidateArrived(_ candidate: IceCandidate?) -> CandidateAction {
        switch state {
        case .new(var new):
            guard let candidate else { return .dropped }
            new.queuedCandidates.append(candidate)
            state = .new(new)
            return .queued
        case .iceConnecting, .iceConnected, .dtlsHandshaking, .dtlsConnected, .sctpUp:
            if let ice, signalling?.remoteCredentialsSet == true { return .deliver(ice) }
            guard let candidate else { return .dropped }
            withSignalling { $0.queuedCandidates.append(candidate) }
            return .queued
        case .closing, .closed:
            return .dropped
        }
    }

    /// The remote description is applied (credentials and candidates are with ICE):
    /// returns `connecting` to announce, or `nil` when there is nothing to announce.
    mutating func remoteDescriptionApplied() -> PeerConnection.State? {
        switch state {
        case .iceConnecting, .iceConnected, .dtlsHandshaking, .dtlsConnected:
            let first = withSignalling { signalling in
                defer { signalling.connectingAnnounced = true }
                return !signalling.connectingAnnounced
            }
            return first == true ? .connecting : nil
        // SCTP up already announced `connected`; an ended connection announces nothing more.
        case .new, .sctpUp, .closing, .closed:
            return nil
        }
    }

    /// Takes the datagrams kept for DTLS (replayed by the caller: they are kept again if
    /// it still cannot take them).
    mutating func takeEarlyDatagrams() -> [[UInt8]] {
        switch state {
        case .iceConnecting(var phase):
            let early = phase.early
            phase.early = []
            state = .iceConnecting(phase)
            return early
        case .iceConnected(var phase):
            let early = phase.early
            phase.early = []
            state = .iceConnected(phase)
            return early
        case .new, .dtlsHandshaking, .dtlsConnected, .sctpUp, .closing, .closed:
            return []
        }
    }

    /// Whether an ICE connected/ready would be the first: only then is the selected
    /// pair's path judged (outside the lock, as libnice takes its own).
    var awaitsICEConnection: Bool {
        switch state {
        case .iceConnecting: true
        case .new, .iceConnected, .dtlsHandshaking, .dtlsConnected, .sctpUp, .closing, .closed: false
        }
    }

    /// ICE connected (its first connected or ready). The caller then tries
    /// ``startHandshakeIfReady()``: the handshake starts once the session is made too.
    mutating func iceConnected(localPathLimit: Int?) {
        switch state {
        case .iceConnecting(let phase):
            // Events come from a stored agent, so there is one; without it, nothing to connect.
            guard let ice = phase.ice else { return }
            state = .iceConnected(
                IceConnected(
                    signalling: phase.signalling, ice: ice, localPathLimit: localPathLimit, dtls: phase.dtls, early: phase.early,
                    upWaiters: phase.upWaiters))
        // A later connected/ready (connected, then ready), or one after the close.
        case .new, .iceConnected, .dtlsHandshaking, .dtlsConnected, .sctpUp, .closing, .closed:
            break
        }
    }

    /// ICE found no working pair (or lost it): the connection fails.
    mutating func iceFailed() -> CloseAction {
        close(.failed(RTCError(.iceFailed, "no ICE candidate pair worked")))
    }
}

extension RTCError {
    /// What every use of an ended connection throws.
    static let connectionClosed = RTCError(.closed, "the connection is closed")
}

extension PeerConnectionStateMachine.CandidateAction: Equatable where Parts: EquatablePeerConnectionParts {}
