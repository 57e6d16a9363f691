/// The objects a connection's phases own, named by what they are to it. ``PeerConnection``
/// fills them with the real ones (libnice, OpenSSL, usrsctp, continuations); the state
/// machine's tests with plain values, so that its transitions run without a socket or a
/// C library.
protocol PeerConnectionParts {
    /// The ICE agent (libnice).
    associatedtype Ice: Sendable
    /// The DTLS session (OpenSSL).
    associatedtype Session: Sendable
    /// The SCTP association (usrsctp).
    associatedtype Association: Sendable
    /// A data channel.
    associatedtype Channel: Sendable
    /// A task waiting for SCTP to come up or for a channel's DCEP ack: resumed with
    /// success, or with an error when the connection closes.
    associatedtype Waiter: Sendable
    /// A sender waiting for send space: resumed when some came free, or on close.
    associatedtype Writer: Sendable
}

/// Parts that compare, so that tests can compare actions whole.
protocol EquatablePeerConnectionParts: PeerConnectionParts
where Ice: Equatable, Session: Equatable, Association: Equatable, Channel: Equatable, Waiter: Equatable, Writer: Equatable {}

/// A peer connection's lifecycle without I/O: one ``State`` whose phases carry what each
/// owns, and a `mutating` method per event that returns what the connection must do
/// (start the handshake, connect the association, announce a state, tear down).
/// ``PeerConnection`` calls it under its lock and performs the actions (the only C calls
/// it makes under the lock are those it always made there: starting and feeding DTLS,
/// sending its replies over ICE).
///
/// The phases, in order: ``State/new`` → ``State/iceConnecting`` → ``State/iceConnected``
/// → ``State/dtlsHandshaking`` → ``State/dtlsConnected`` → ``State/sctpUp``; any of them
/// may end in ``State/closing`` (torn down outside the lock) and then ``State/closed``.
/// The remote description may come before or after ICE connects: the handshake starts
/// once both happened. An event the phase does not expect (late, out of order, after
/// close) is ignored or refused with an error, never a crash.
struct PeerConnectionStateMachine<Parts: PeerConnectionParts>: Sendable {
    typealias Ice = Parts.Ice
    typealias Session = Parts.Session
    typealias Association = Parts.Association
    typealias Channel = Parts.Channel
    typealias Waiter = Parts.Waiter
    typealias Writer = Parts.Writer

    /// Which side of the offer/answer exchange this is.
    enum Role: Sendable, Equatable { case offerer, answerer }

    /// How a connection ended.
    enum Outcome: Sendable, Equatable {
        case closed
        case failed(RTCError)

        /// The final state announced for it.
        var state: PeerConnection.State {
            switch self {
            case .closed: .closed
            case .failed(let error): .failed(error)
            }
        }
    }

    /// Where the connection stands; each phase carries what it owns.
    enum State: Sendable {
        /// No role yet: neither an offer made nor a remote offer taken.
        case new(New)
        /// The roles are set and ICE gathers and checks; it cannot send yet.
        case iceConnecting(IceConnecting)
        /// ICE can send; DTLS waits for the remote description (or its start).
        case iceConnected(IceConnected)
        /// The DTLS handshake runs.
        case dtlsHandshaking(Handshaking)
        /// DTLS is up; the SCTP association is made and connects.
        case dtlsConnected(Secured, upWaiters: [Int: Waiter])
        /// SCTP is up: channels open and carry messages.
        case sctpUp(Secured)
        /// Ended; what the live phase owned is being torn down (outside the lock).
        case closing(Ended)
        /// Ended and torn down.
        case closed(Ended)
    }

    /// The phases without what they carry, to log and to test.
    enum Phase: Sendable, Equatable {
        case new, iceConnecting, iceConnected, dtlsHandshaking, dtlsConnected, sctpUp, closing, closed
    }

    /// Before any role: only what may come that early.
    struct New: Sendable {
        /// Candidates the peer trickled before its offer arrived.
        var queuedCandidates: [IceCandidate] = []
        var upWaiters: [Int: Waiter] = [:]
    }

    /// What the offer/answer exchange settled, from the roles on.
    struct Signalling: Sendable {
        let role: Role
        var local: SessionDescription?
        var remote: SessionDescription?
        /// Whether ICE has the peer's credentials: until then its candidates are queued.
        var remoteCredentialsSet = false
        var queuedCandidates: [IceCandidate]
        /// Whether `connecting` was announced (the remote description is applied).
        var connectingAnnounced = false

        /// What the connection reports before SCTP is up.
        var announcedState: PeerConnection.State { connectingAnnounced ? .connecting : .new }
    }

    /// The DTLS session, made when the remote description came, and our role in it.
    struct DTLS: Sendable {
        let session: Session
        let role: DTLSRole
    }

    /// ICE gathers and checks.
    struct IceConnecting: Sendable {
        var signalling: Signalling
        /// `nil` while the agent is being made (outside the lock: making it calls
        /// libnice), or when making it failed.
        var ice: Ice?
        var dtls: DTLS?
        /// Datagrams that came before DTLS could take them; replayed once it can. Bounded.
        var early: [[UInt8]] = []
        var upWaiters: [Int: Waiter]
    }

    /// ICE connected; the handshake has not started.
    struct IceConnected: Sendable {
        var signalling: Signalling
        let ice: Ice
        /// The largest UDP payload of the selected pair's path, when it is local (judged
        /// on the first connected/ready; the datagram size is decided from it).
        let localPathLimit: Int?
        var dtls: DTLS?
        var early: [[UInt8]]
        var upWaiters: [Int: Waiter]
    }

    /// The DTLS handshake runs.
    struct Handshaking: Sendable {
        var signalling: Signalling
        let ice: Ice
        let localPathLimit: Int?
        let dtls: DTLS
        /// Which retransmission timer is current; an older one finds it changed.
        var retransmitGeneration = 0
        var upWaiters: [Int: Waiter]
    }

    /// DTLS is up, and the association over it.
    struct Secured: Sendable {
        var signalling: Signalling
        let ice: Ice
        let dtls: DTLS
        let association: Association
        /// The datagram size chosen when DTLS connected.
        let datagramSize: Int
        var channels = Channels()
    }

    /// The channels of an association, and who waits on them.
    struct Channels: Sendable {
        var open: [UInt16: Channel] = [:]
        var nextEvenStream: UInt16 = 0
        var nextOddStream: UInt16 = 1
        var ackWaiters: [UInt16: Waiter] = [:]
        /// Counts writable events, so that a sender that saw none since its try waits.
        var writableGeneration = 0
        var writableWaiters: [Int: Writer] = [:]

        /// RFC 8832 §6: the DTLS client uses even stream ids, the server odd ones.
        mutating func nextStreamID(client: Bool) -> UInt16 {
            var id = client ? nextEvenStream : nextOddStream
            while open[id] != nil { id &+= 2 }
            if client { nextEvenStream = id &+ 2 } else { nextOddStream = id &+ 2 }
            return id
        }
    }

    /// What is left of an ended connection: what ``PeerConnection/statistics()`` still reports.
    struct Ended: Sendable, Equatable {
        let outcome: Outcome
        /// The datagram size chosen when DTLS connected, if it did.
        let datagramSize: Int?
    }

    /// Where the connection stands. Settable across this type's files (Swift has no
    /// narrower scope for extensions elsewhere); only its own methods set it.
    var state = State.new(New())
    /// The last id given to a waiter (of SCTP up, or of send space); kept across phases,
    /// as the connection takes an id before it knows the phase it will wait in.
    private var lastWaiterID = 0

    /// How many early datagrams are kept.
    static var earlyLimit: Int { 64 }

    /// A fresh id for a waiter.
    mutating func makeWaiterID() -> Int {
        lastWaiterID += 1
        return lastWaiterID
    }

    // MARK: Queries

    var phase: Phase {
        switch state {
        case .new: .new
        case .iceConnecting: .iceConnecting
        case .iceConnected: .iceConnected
        case .dtlsHandshaking: .dtlsHandshaking
        case .dtlsConnected: .dtlsConnected
        case .sctpUp: .sctpUp
        case .closing: .closing
        case .closed: .closed
        }
    }

    /// The state the connection reports (``PeerConnection/states``, its statistics).
    var publicState: PeerConnection.State {
        switch state {
        case .new: .new
        case .iceConnecting(let phase): phase.signalling.announcedState
        case .iceConnected(let phase): phase.signalling.announcedState
        case .dtlsHandshaking(let phase): phase.signalling.announcedState
        case .dtlsConnected(let secured, _): secured.signalling.announcedState
        case .sctpUp: .connected
        case .closing(let ended), .closed(let ended): ended.outcome.state
        }
    }

    /// What the offer/answer exchange settled, in the live phases.
    var signalling: Signalling? {
        switch state {
        case .iceConnecting(let phase): phase.signalling
        case .iceConnected(let phase): phase.signalling
        case .dtlsHandshaking(let phase): phase.signalling
        case .dtlsConnected(let secured, _), .sctpUp(let secured): secured.signalling
        case .new, .closing, .closed: nil
        }
    }

    /// The ICE agent, while there is one and the connection is not closed.
    var ice: Ice? {
        switch state {
        case .iceConnecting(let phase): phase.ice
        case .iceConnected(let phase): phase.ice
        case .dtlsHandshaking(let phase): phase.ice
        case .dtlsConnected(let secured, _), .sctpUp(let secured): secured.ice
        case .new, .closing, .closed: nil
        }
    }

    /// The association, from DTLS connected until the close.
    var association: Association? { secured?.association }

    /// The datagram size chosen when DTLS connected; kept after the close.
    var datagramSize: Int? {
        switch state {
        case .dtlsConnected(let secured, _), .sctpUp(let secured): secured.datagramSize
        case .closing(let ended), .closed(let ended): ended.datagramSize
        case .new, .iceConnecting, .iceConnected, .dtlsHandshaking: nil
        }
    }

    /// The open channels (in no order).
    var channels: [Channel] { secured.map { Array($0.channels.open.values) } ?? [] }

    /// The mid local candidates are trickled with: the offer's for an answerer, else "0".
    var trickleMid: String {
        guard let signalling, signalling.role == .answerer else { return "0" }
        return signalling.remote?.mid ?? "0"
    }

    /// The secured phase's payload (DTLS connected or SCTP up).
    var secured: Secured? {
        switch state {
        case .dtlsConnected(let secured, _), .sctpUp(let secured): secured
        case .new, .iceConnecting, .iceConnected, .dtlsHandshaking, .closing, .closed: nil
        }
    }

    // MARK: Changing one part of the phase

    // For this type's own methods (its files): each takes the payload out, changes it and
    // puts it back, so that every event need not spell out the phases that carry a part.

    /// Runs `body` on the live phase's signalling; `nil` (and nothing run) in the others.
    @discardableResult
    mutating func withSignalling<R, E: Error>(_ body: (inout Signalling) throws(E) -> R) throws(E) -> R? {
        switch state {
        case .iceConnecting(var phase):
            defer { state = .iceConnecting(phase) }
            return try body(&phase.signalling)
        case .iceConnected(var phase):
            defer { state = .iceConnected(phase) }
            return try body(&phase.signalling)
        case .dtlsHandshaking(var phase):
            defer { state = .dtlsHandshaking(phase) }
            return try body(&phase.signalling)
        case .dtlsConnected(var secured, let upWaiters):
            defer { state = .dtlsConnected(secured, upWaiters: upWaiters) }
            return try body(&secured.signalling)
        case .sctpUp(var secured):
            defer { state = .sctpUp(secured) }
            return try body(&secured.signalling)
        case .new, .closing, .closed:
            return nil
        }
    }

    /// Runs `body` on the waiters for SCTP up, in the phases before it.
    @discardableResult
    mutating func withUpWaiters<R>(_ body: (inout [Int: Waiter]) -> R) -> R? {
        switch state {
        case .new(var phase):
            defer { state = .new(phase) }
            return body(&phase.upWaiters)
        case .iceConnecting(var phase):
            defer { state = .iceConnecting(phase) }
            return body(&phase.upWaiters)
        case .iceConnected(var phase):
            defer { state = .iceConnected(phase) }
            return body(&phase.upWaiters)
        case .dtlsHandshaking(var phase):
            defer { state = .dtlsHandshaking(phase) }
            return body(&phase.upWaiters)
        case .dtlsConnected(let secured, var upWaiters):
            defer { state = .dtlsConnected(secured, upWaiters: upWaiters) }
            return body(&upWaiters)
        case .sctpUp, .closing, .closed:
            return nil
        }
    }

    /// Runs `body` on the secured phase (DTLS connected or SCTP up).
    @discardableResult
    mutating func withSecured<R, E: Error>(_ body: (inout Secured) throws(E) -> R) throws(E) -> R? {
        switch state {
        case .dtlsConnected(var secured, let upWaiters):
            defer { state = .dtlsConnected(secured, upWaiters: upWaiters) }
            return try body(&secured)
        case .sctpUp(var secured):
            defer { state = .sctpUp(secured) }
            return try body(&secured)
        case .new, .iceConnecting, .iceConnected, .dtlsHandshaking, .closing, .closed:
            return nil
        }
    }
}

extension PeerConnectionStateMachine.DTLS: Equatable where Parts: EquatablePeerConnectionParts {}
