import Testing

@testable import FugitiveRTC

/// The peer connection's lifecycle on its own: strings and numbers stand in for the ICE
/// agent, the DTLS session, the SCTP association, the channels and the waiting tasks, so
/// no socket, libnice, OpenSSL or usrsctp is involved.
@Suite("Peer connection state machine")
struct PeerConnectionStateMachineTests {
    enum StandIns: EquatablePeerConnectionParts {
        typealias Ice = String
        typealias Session = String
        typealias Association = String
        typealias Channel = String
        typealias Waiter = Int
        typealias Writer = Int
    }

    typealias Machine = PeerConnectionStateMachine<StandIns>

    static let fingerprint = Fingerprint(bytes: [UInt8](repeating: 7, count: Fingerprint.byteCount))!
    static let offer = SessionDescription.local(
        kind: .offer, ufrag: "offr", pwd: "offererpasswordoffererpw", fingerprint: fingerprint, setup: .actpass, mid: "data",
        maxMessageSize: 65_536)
    static let answer = SessionDescription.local(
        kind: .answer, ufrag: "answ", pwd: "answererpasswordanswerpw", fingerprint: fingerprint, setup: .active, mid: "data",
        sctpPort: 5001, maxMessageSize: 262_144, maxDatagramSize: 9000)
    static let candidate = try! IceCandidate(attributeValue: "candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host")
    static let otherCandidate = try! IceCandidate(attributeValue: "candidate:2 1 udp 2122260223 127.0.0.1 50001 typ host")
    static let closed = RTCError(.closed, "the connection is closed")
    static let iceFailure = RTCError(.iceFailed, "no ICE candidate pair worked")
    static let livePhases: [Machine.Phase] = [.new, .iceConnecting, .iceConnected, .dtlsHandshaking, .dtlsConnected, .sctpUp]

    /// A machine driven to `phase` as the offerer (the DTLS client), with up waiter 1 from
    /// the start and, once DTLS connected, channel 0 open, ack waiter 10 on it and writer
    /// 20 waiting. In `iceConnecting` the answer (and session) came before ICE connected;
    /// in `iceConnected` ICE connected before the answer.
    static func machine(in phase: Machine.Phase) throws -> Machine {
        var machine = Machine()
        let id = machine.makeWaiterID()
        let wait = machine.awaitConnection(id: id, waiter: 1, cancelled: false)
        #expect(wait == .waiting)
        guard phase != .new else { return machine }
        try machine.claimOfferer()
        try machine.iceAgentCreated("ice")
        switch phase {
        case .iceConnecting:
            try machine.remoteAnswerReceived(answer)
            _ = try machine.sessionCreated("session", role: .client)
            return machine
        case .iceConnected:
            machine.iceConnected(localPathLimit: 9000)
            return machine
        default:
            break
        }
        try machine.remoteAnswerReceived(answer)
        _ = try machine.sessionCreated("session", role: .client)
        machine.remoteCredentialsSet()
        _ = machine.remoteDescriptionApplied()
        machine.iceConnected(localPathLimit: 9000)
        _ = machine.startHandshakeIfReady()
        guard phase != .dtlsHandshaking else { return machine }
        _ = machine.handshakeCompleted(association: "association", datagramSize: 9000)
        _ = try machine.openChannel { "channel \($0)" }
        _ = machine.awaitAck(on: 0, waiter: 10)
        _ = machine.awaitWritable(after: 0, writer: 20)
        guard phase != .dtlsConnected else { return machine }
        _ = machine.associationUp()
        guard phase != .sctpUp else { return machine }
        _ = machine.close(.closed)
        guard phase != .closing else { return machine }
        machine.teardownFinished()
        return machine
    }

    /// What closing `machine(in: phase)` must hand over for release.
    static func teardown(of phase: Machine.Phase, _ outcome: Machine.Outcome) -> Machine.Teardown? {
        switch phase {
        case .new:
            Machine.Teardown(outcome: outcome, ice: nil, session: nil, association: nil, channels: [], waiters: [1], writers: [])
        case .iceConnecting, .dtlsHandshaking:
            Machine.Teardown(outcome: outcome, ice: "ice", session: "session", association: nil, channels: [], waiters: [1], writers: [])
        case .iceConnected:
            Machine.Teardown(outcome: outcome, ice: "ice", session: nil, association: nil, channels: [], waiters: [1], writers: [])
        case .dtlsConnected:
            Machine.Teardown(
                outcome: outcome, ice: "ice", session: "session", association: "association", channels: ["channel 0"], waiters: [1, 10],
                writers: [20])
        case .sctpUp:
            Machine.Teardown(
                outcome: outcome, ice: "ice", session: "session", association: "association", channels: ["channel 0"], waiters: [10],
                writers: [20])
        case .closing, .closed:
            nil
        }
    }

    @Test func theOfferersHappyPathGoesThroughEveryPhaseInOrder() throws {
        var machine = Machine()
        #expect(machine.phase == .new && machine.publicState == .new)
        try machine.claimOfferer()
        #expect(machine.phase == .iceConnecting && machine.ice == nil)
        try machine.iceAgentCreated("ice")
        machine.localDescriptionCreated(Self.offer)
        #expect(machine.ice == "ice" && machine.signalling?.local == Self.offer && machine.trickleMid == "0")
        try machine.remoteAnswerReceived(Self.answer)
        let applied = try machine.sessionCreated("session", role: .client)
        #expect(applied.ice == "ice" && applied.queued.isEmpty)
        machine.remoteCredentialsSet()
        let announced = machine.remoteDescriptionApplied()
        #expect(announced == .connecting && machine.publicState == .connecting)
        let again = machine.remoteDescriptionApplied()
        #expect(again == nil, "announced once")
        // ICE cannot send yet: no handshake.
        let early = machine.startHandshakeIfReady()
        #expect(early == .ignore && machine.phase == .iceConnecting && machine.awaitsICEConnection)

        machine.iceConnected(localPathLimit: 9000)
        #expect(machine.phase == .iceConnected && !machine.awaitsICEConnection)
        let start = machine.startHandshakeIfReady()
        #expect(start == .start(session: "session", ice: "ice", early: []))
        #expect(machine.phase == .dtlsHandshaking && machine.handshakingSession == "session" && machine.transmitPath == nil)
        let datagram = [UInt8](repeating: 22, count: 40).withUnsafeBytes { machine.datagramArrived($0) }
        let handshake = Machine.Handshake(remote: Self.answer, localPathLimit: 9000)
        #expect(datagram == .decrypt(Machine.Receiver(session: "session", ice: "ice", association: nil, handshake: handshake)))

        let completed = machine.handshakeCompleted(association: "association", datagramSize: 9000)
        #expect(completed)
        #expect(machine.phase == .dtlsConnected && machine.association == "association" && machine.datagramSize == 9000)
        #expect(machine.transmitPath?.session == "session" && machine.transmitPath?.ice == "ice" && machine.handshakingSession == nil)
        #expect(machine.publicState == .connecting)
        let records = [UInt8](repeating: 23, count: 40).withUnsafeBytes { machine.datagramArrived($0) }
        #expect(records == .decrypt(Machine.Receiver(session: "session", ice: "ice", association: "association", handshake: nil)))

        let up = machine.associationUp()
        #expect(up == .announceConnected(waiters: []) && machine.phase == .sctpUp && machine.publicState == .connected)
        let close = machine.close(.closed)
        let everything = Machine.Teardown(
            outcome: .closed, ice: "ice", session: "session", association: "association", channels: [], waiters: [], writers: [])
        #expect(close == .tearDown(everything))
        #expect(machine.phase == .closing && machine.publicState == .closed && machine.ice == nil && machine.association == nil)
        machine.teardownFinished()
        #expect(machine.phase == .closed && machine.publicState == .closed && machine.datagramSize == 9000)
    }

    @Test func theAnswererAnswersOnlyOnceItsAgentIsMadeAndTricklesWithTheOffersMid() throws {
        var machine = Machine()
        try machine.claimAnswerer(offer: Self.offer)
        #expect(machine.phase == .iceConnecting && machine.signalling?.role == .answerer)
        #expect(throws: RTCError(.signalling, "createAnswer needs a remote offer first")) { try machine.answering() }
        try machine.iceAgentCreated("ice")
        let answering = try machine.answering()
        #expect(answering.ice == "ice" && answering.offer == Self.offer && machine.trickleMid == "data")
        #expect(throws: RTCError(.signalling, "createOffer after the roles were set")) { try machine.claimOfferer() }
        #expect(throws: RTCError(.signalling, "a remote offer after the roles were set")) { try machine.claimAnswerer(offer: Self.offer) }
        #expect(throws: RTCError(.signalling, "an answer without our offer")) { try machine.remoteAnswerReceived(Self.answer) }
        #expect(throws: RTCError(.signalling, "an ICE agent without a role that awaits one")) { try machine.iceAgentCreated("other") }
        _ = try machine.sessionCreated("session", role: .server)
        #expect(throws: RTCError(.signalling, "a DTLS session the connection has no place for")) {
            _ = try machine.sessionCreated("other", role: .server)
        }
    }

    @Test func anOfferersSecondAnswerOrAnAnswerWithoutAnOfferIsRefused() throws {
        var fresh = Machine()
        #expect(throws: RTCError(.signalling, "an answer without our offer")) { try fresh.remoteAnswerReceived(Self.answer) }
        #expect(throws: RTCError(.signalling, "a DTLS session the connection has no place for")) {
            _ = try fresh.sessionCreated("session", role: .client)
        }
        #expect(fresh.phase == .new)
        var machine = try Self.machine(in: .dtlsHandshaking)
        #expect(throws: RTCError(.signalling, "an answer without our offer")) { try machine.remoteAnswerReceived(Self.answer) }
    }

    @Test func iceConnectingBeforeTheAnswerStartsTheHandshakeWhenTheSessionIsMade() throws {
        var machine = try Self.machine(in: .iceConnected)
        let waiting = machine.startHandshakeIfReady()
        #expect(waiting == .ignore && machine.phase == .iceConnected)
        let kept = [UInt8]([1, 2, 3]).withUnsafeBytes { machine.datagramArrived($0) }
        #expect(kept == .buffered)
        try machine.remoteAnswerReceived(Self.answer)
        _ = try machine.sessionCreated("session", role: .client)
        #expect(machine.phase == .iceConnected, "the session is made, not started")
        let start = machine.startHandshakeIfReady()
        #expect(start == .start(session: "session", ice: "ice", early: [[1, 2, 3]]))
        #expect(machine.phase == .dtlsHandshaking)
        let again = machine.startHandshakeIfReady()
        #expect(again == .ignore, "started once")
        machine.iceConnected(localPathLimit: nil)
        #expect(machine.phase == .dtlsHandshaking, "a later ready changes nothing")
    }

    @Test func earlyDatagramsAreBoundedAndTakenOnce() throws {
        var machine = try Self.machine(in: .iceConnecting)
        for index in 0..<Machine.earlyLimit {
            let action = [UInt8(index)].withUnsafeBytes { machine.datagramArrived($0) }
            #expect(action == .buffered)
        }
        let overflow = [UInt8]([255]).withUnsafeBytes { machine.datagramArrived($0) }
        #expect(overflow == .dropped)
        let early = machine.takeEarlyDatagrams()
        #expect(early == (0..<Machine.earlyLimit).map { [UInt8($0)] })
        let taken = machine.takeEarlyDatagrams()
        #expect(taken.isEmpty)
        var fresh = Machine()
        let beforeAnyAgent = [UInt8]([1]).withUnsafeBytes { fresh.datagramArrived($0) }
        #expect(beforeAnyAgent == .dropped)
    }

    @Test func candidatesAreQueuedUntilTheCredentialsAreSet() throws {
        var machine = Machine()
        let beforeTheOffer = machine.remoteCandidateArrived(Self.candidate)
        let endMarker = machine.remoteCandidateArrived(nil)
        #expect(beforeTheOffer == .queued && endMarker == .dropped)
        try machine.claimAnswerer(offer: Self.offer)
        try machine.iceAgentCreated("ice")
        let withTheAgent = machine.remoteCandidateArrived(Self.otherCandidate)
        #expect(withTheAgent == .queued)
        let applied = try machine.sessionCreated("session", role: .server)
        #expect(applied.ice == "ice" && applied.queued == [Self.candidate, Self.otherCandidate])
        machine.remoteCredentialsSet()
        let direct = machine.remoteCandidateArrived(Self.candidate)
        let directEnd = machine.remoteCandidateArrived(nil)
        #expect(direct == .deliver("ice") && directEnd == .deliver("ice"))
        _ = machine.close(.closed)
        let late = machine.remoteCandidateArrived(Self.candidate)
        #expect(late == .dropped)
    }

    @Test func retransmissionTimersGoStaleWhenANewerOneIsArmed() throws {
        var machine = try Self.machine(in: .dtlsHandshaking)
        let first = machine.retransmissionScheduled()
        let second = machine.retransmissionScheduled()
        #expect(first == 1 && second == 2)
        #expect(machine.retransmissionDue(1) == .ignore)
        #expect(machine.retransmissionDue(2) == .retransmit(session: "session", ice: "ice"))
        _ = machine.handshakeCompleted(association: "association", datagramSize: 1200)
        let afterTheHandshake = machine.retransmissionScheduled()
        #expect(machine.retransmissionDue(2) == .ignore && afterTheHandshake == nil)
    }

    @Test(arguments: livePhases)
    func closeTearsDownWhatEachPhaseOwns(_ phase: Machine.Phase) throws {
        var machine = try Self.machine(in: phase)
        #expect(machine.phase == phase)
        let action = machine.close(.closed)
        #expect(action == .tearDown(try #require(Self.teardown(of: phase, .closed))))
        #expect(machine.phase == .closing && machine.publicState == .closed)
        #expect(machine.ice == nil && machine.association == nil && machine.channels.isEmpty && machine.signalling == nil)
        #expect(machine.datagramSize == ([.dtlsConnected, .sctpUp].contains(phase) ? 9000 : nil), "kept for statistics")
        machine.teardownFinished()
        #expect(machine.phase == .closed && machine.publicState == .closed)
    }

    @Test(arguments: livePhases)
    func iceFailureFailsEachPhase(_ phase: Machine.Phase) throws {
        var machine = try Self.machine(in: phase)
        let action = machine.iceFailed()
        #expect(action == .tearDown(try #require(Self.teardown(of: phase, .failed(Self.iceFailure)))))
        #expect(machine.phase == .closing && machine.publicState == .failed(Self.iceFailure))
    }

    @Test(arguments: livePhases)
    func dtlsFailureFailsEachPhase(_ phase: Machine.Phase) throws {
        var machine = try Self.machine(in: phase)
        let error = RTCError(.fingerprintMismatch, "the peer's certificate does not match the SDP's fingerprint")
        let action = machine.dtlsFailed(error)
        #expect(action == .tearDown(try #require(Self.teardown(of: phase, .failed(error)))))
        #expect(machine.publicState == .failed(error))
    }

    @Test(arguments: livePhases)
    func aSecondCloseOrALateFailureIsIgnored(_ phase: Machine.Phase) throws {
        var machine = try Self.machine(in: phase)
        _ = machine.close(.closed)
        let second = machine.close(.closed)
        let iceFailure = machine.iceFailed()
        let dtlsFailure = machine.dtlsFailed(RTCError(.handshakeFailed, "late"))
        #expect(second == .ignore && iceFailure == .ignore && dtlsFailure == .ignore)
        #expect(machine.publicState == .closed, "the first outcome stays")
        machine.teardownFinished()
        let afterTeardown = machine.close(.failed(Self.iceFailure))
        #expect(afterTeardown == .ignore && machine.phase == .closed && machine.publicState == .closed)
        machine.teardownFinished()
        #expect(machine.phase == .closed)
    }

    @Test(arguments: [Machine.Phase.closing, .closed])
    func eventsAfterTheCloseAreIgnoredOrRefused(_ phase: Machine.Phase) throws {
        var machine = try Self.machine(in: phase)
        #expect(machine.phase == phase)
        let completed = machine.handshakeCompleted(association: "late", datagramSize: 1200)
        #expect(!completed)
        let up = machine.associationUp()
        let start = machine.startHandshakeIfReady()
        let datagram = [UInt8]([1]).withUnsafeBytes { machine.datagramArrived($0) }
        let announced = machine.remoteDescriptionApplied()
        #expect(up == .ignore && start == .ignore && datagram == .dropped && announced == nil)
        machine.iceConnected(localPathLimit: 9000)
        machine.remoteCredentialsSet()
        machine.localDescriptionCreated(Self.offer)
        let (early, timer, writers, ack) = (
            machine.takeEarlyDatagrams(), machine.retransmissionScheduled(), machine.associationWritable(), machine.ackArrived(on: 0)
        )
        #expect(machine.phase == phase && !machine.awaitsICEConnection && early.isEmpty)
        #expect(machine.retransmissionDue(1) == .ignore && timer == nil && machine.transmitPath == nil)
        #expect(writers.isEmpty && machine.channel(on: 0) == nil && ack == nil)
        #expect(throws: Self.closed) { try machine.claimOfferer() }
        #expect(throws: Self.closed) { try machine.claimAnswerer(offer: Self.offer) }
        #expect(throws: Self.closed) { try machine.iceAgentCreated("late") }
        #expect(throws: Self.closed) { try machine.remoteAnswerReceived(Self.answer) }
        #expect(throws: Self.closed) { _ = try machine.sessionCreated("late", role: .client) }
        #expect(throws: Self.closed) { _ = try machine.openChannel { "channel \($0)" } }
        #expect(throws: Self.closed) { _ = try machine.sendPath() }
        #expect(throws: RTCError(.signalling, "createAnswer needs a remote offer first")) { try machine.answering() }
        let ackWait = machine.awaitAck(on: 0, waiter: 11)
        #expect(!ackWait, "nothing would resume it")
        let id = machine.makeWaiterID()
        let upWait = machine.awaitConnection(id: id, waiter: 12, cancelled: false)
        let writableWait = machine.awaitWritable(after: 0, writer: 13)
        #expect(upWait == .closed && writableWait == nil)
        let streamReset = machine.streamReset(0)
        #expect(streamReset.channel == nil && streamReset.association == nil)
        let opened = machine.peerOpenedChannel(on: 1) { "channel \($0)" }
        #expect(opened == nil)
        #expect(machine.phase == phase && machine.publicState == .closed)
    }

    @Test func eventsBeforeTheirPhaseAreIgnored() throws {
        var machine = Machine()
        let completed = machine.handshakeCompleted(association: "association", datagramSize: 1200)
        let up = machine.associationUp()
        let start = machine.startHandshakeIfReady()
        let announced = machine.remoteDescriptionApplied()
        #expect(!completed && up == .ignore && start == .ignore && announced == nil)
        machine.iceConnected(localPathLimit: 9000)
        #expect(machine.phase == .new && !machine.awaitsICEConnection)
        #expect(throws: RTCError(.signalling, "an ICE agent without a role that awaits one")) { try machine.iceAgentCreated("ice") }
        #expect(throws: Self.closed) { _ = try machine.openChannel { "channel \($0)" } }

        var handshaking = try Self.machine(in: .dtlsHandshaking)
        let early = handshaking.associationUp()
        #expect(early == .ignore && handshaking.phase == .dtlsHandshaking, "SCTP up before DTLS connected")
        var connected = try Self.machine(in: .sctpUp)
        let again = connected.associationUp()
        let secondCompletion = connected.handshakeCompleted(association: "other", datagramSize: 1200)
        #expect(again == .ignore && !secondCompletion)
        let announced2 = connected.remoteDescriptionApplied()
        #expect(announced2 == nil, "connected is never followed by connecting")
        #expect(connected.association == "association" && connected.phase == .sctpUp)
    }

    @Test func waitersForSCTPUpAreResumedWhenItComes() throws {
        var machine = try Self.machine(in: .dtlsHandshaking)
        let second = machine.makeWaiterID()
        let cancelledID = machine.makeWaiterID()
        let waiting = machine.awaitConnection(id: second, waiter: 2, cancelled: false)
        let cancelled = machine.awaitConnection(id: cancelledID, waiter: 3, cancelled: true)
        #expect(waiting == .waiting && cancelled == .cancelled)
        let (taken, takenAgain) = (machine.upWaiterCancelled(second), machine.upWaiterCancelled(second))
        #expect(taken == 2 && takenAgain == nil)
        _ = machine.handshakeCompleted(association: "association", datagramSize: 1200)
        let up = machine.associationUp()
        #expect(up == .announceConnected(waiters: [1]), "the waiter from before the roles, not the cancelled ones")
        let later = machine.makeWaiterID()
        let afterUp = machine.awaitConnection(id: later, waiter: 4, cancelled: true)
        #expect(afterUp == .connected, "up comes before cancelled")
    }

    @Test func channelStreamIDsFollowTheDTLSRole() throws {
        var client = try Self.machine(in: .sctpUp)
        let second = try client.openChannel { "channel \($0)" }
        #expect(second.channel == "channel 2" && second.association == "association")
        // The peer (the server) took 5 and 4 is ours to take next; a second open of 5 is ignored.
        let peers = client.peerOpenedChannel(on: 5) { "peer \($0)" }
        let reopened = client.peerOpenedChannel(on: 5) { "again \($0)" }
        #expect(peers?.channel == "peer 5" && reopened == nil)
        #expect(client.channel(on: 5) == "peer 5")
        let removed = client.streamReset(5)
        #expect(removed.channel == "peer 5" && removed.association == "association" && client.channel(on: 5) == nil)
        _ = client.peerOpenedChannel(on: 4) { "peer \($0)" }
        let skipping = try client.openChannel { "channel \($0)" }
        #expect(skipping.channel == "channel 6", "4 was taken by the peer")
        #expect(Set(client.channels) == ["channel 0", "channel 2", "peer 4", "channel 6"])

        var server = Machine()
        try server.claimAnswerer(offer: Self.offer)
        try server.iceAgentCreated("ice")
        _ = try server.sessionCreated("session", role: .server)
        server.iceConnected(localPathLimit: nil)
        _ = server.startHandshakeIfReady()
        _ = server.handshakeCompleted(association: "association", datagramSize: 1200)
        let first = try server.openChannel { "channel \($0)" }
        let next = try server.openChannel { "channel \($0)" }
        #expect(first.channel == "channel 1" && next.channel == "channel 3")
    }

    @Test func acksAndWritersAreResumedOnce() throws {
        var machine = try Self.machine(in: .sctpUp)
        let (ack, secondAck) = (machine.ackArrived(on: 0), machine.ackArrived(on: 0))
        #expect(ack == 10 && secondAck == nil)
        let path = try machine.sendPath()
        #expect(path == Machine.SendPath(association: "association", writableGeneration: 0, maxMessageSize: 262_144))
        let writers = machine.associationWritable()
        let noWriters = machine.associationWritable()
        #expect(writers == [20] && noWriters.isEmpty)
        let stale = machine.awaitWritable(after: 0, writer: 21)
        #expect(stale == nil, "space came since generation 0")
        let registered = machine.awaitWritable(after: 2, writer: 22)
        let id = try #require(registered)
        let (timedOut, timedOutAgain) = (machine.writableWaiterTimedOut(id), machine.writableWaiterTimedOut(id))
        #expect(timedOut == 22 && timedOutAgain == nil)
        #expect(try machine.sendPath().writableGeneration == 2)
    }

    @Test func anAgentOrSessionMadeDuringACloseIsRefused() throws {
        var offerer = Machine()
        try offerer.claimOfferer()
        _ = offerer.close(.closed)
        #expect(throws: Self.closed) { try offerer.iceAgentCreated("ice") }
        var answerer = Machine()
        try answerer.claimAnswerer(offer: Self.offer)
        try answerer.iceAgentCreated("ice")
        let action = answerer.close(.closed)
        let agentOnly = Machine.Teardown(outcome: .closed, ice: "ice", session: nil, association: nil, channels: [], waiters: [], writers: [])
        #expect(action == .tearDown(agentOnly))
        #expect(throws: Self.closed) { _ = try answerer.sessionCreated("session", role: .server) }
    }
}
