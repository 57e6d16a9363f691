import Synchronization

/// The connection's mutable part, only touched under its lock. No C call that calls
/// back into the connection (usrsctp) is ever made while the lock is held.
struct Core: ~Copyable {
    /// Where the connection stands, and what each phase owns.
    var lifecycle = PeerConnection.Lifecycle()
    /// Datagrams coalesced while usrsctp runs (a local path only); see `batchingSends`.
    /// Beside the lifecycle rather than in a phase: its depth counts calls into usrsctp
    /// whatever the phase, and each packet changes it (in a phase, each would rewrite
    /// the state).
    var outbox = Outbox()
    /// The connection's whole life, reported after the close too.
    var counters = PeerConnection.Statistics.Counters()
}

extension PeerConnection {
    /// The real objects behind the lifecycle's phases.
    enum Parts: PeerConnectionParts {
        typealias Ice = IceAgent
        typealias Session = DTLSSession
        typealias Association = SCTPAssociation
        typealias Channel = DataChannel
        typealias Waiter = CheckedContinuation<Result<Void, RTCError>, Never>
        typealias Writer = CheckedContinuation<Void, Never>
    }

    /// The connection's state machine.
    typealias Lifecycle = PeerConnectionStateMachine<Parts>
}

extension PeerConnection {
    // MARK: ICE

    func startICE(controlling: Bool) throws(RTCError) -> IceAgent {
        let ice = try IceAgent(
            loop: loop, controlling: controlling,
            configuration: .init(
                stunServer: configuration.stunServer, turnServers: configuration.turnServers, portRange: configuration.portRange,
                localAddresses: configuration.localAddresses),
            onDatagram: { [weak self] datagram in self?.handleDatagram(datagram) })
        do {
            try core.withLock { core throws(RTCError) in try core.lifecycle.iceAgentCreated(ice) }
        } catch {
            // Closed while the agent was made: it would gather for nobody.
            ice.close()
            throw error
        }
        Task { [weak self] in
            for await event in ice.events {
                guard let self else { return }
                self.handle(event, from: ice)
            }
        }
        try ice.gather()
        return ice
    }

    private func handle(_ event: IceEvent, from ice: IceAgent) {
        let mid = core.withLock { $0.lifecycle.trickleMid }
        switch event {
        case .candidate(let candidate):
            candidateSink.yield(TrickledCandidate(candidate: candidate, mid: mid, usernameFragment: ice.credentials.ufrag))
        case .gatheringDone:
            candidateSink.yield(.endOfCandidates(mid: mid, usernameFragment: ice.credentials.ufrag))
        case .state(.connected), .state(.ready):
            // Judged once, on the first of connected/ready (the size is decided from it when
            // DTLS connects); the pair is asked outside our lock, as libnice takes its own.
            if core.withLock({ $0.lifecycle.awaitsICEConnection }) {
                let limit = ice.selectedPair().flatMap { LocalPath.datagramLimit(local: $0.local, remote: $0.remote) }
                core.withLock { $0.lifecycle.iceConnected(localPathLimit: limit) }
            }
            startDTLSIfReady()
        case .state(.failed):
            tearDown(core.withLock { $0.lifecycle.iceFailed() })
        case .state:
            break
        }
    }

    // MARK: DTLS

    /// Starts the handshake once both the DTLS role is known and ICE can send, then
    /// replays what arrived early.
    func startDTLSIfReady() {
        let early = core.withLock { core -> [[UInt8]]? in
            guard case .start(let dtls, let ice, let early) = core.lifecycle.startHandshakeIfReady() else { return nil }
            for datagram in dtls.start() { ice.send(datagram) }
            return early
        }
        guard let early else { return }
        scheduleRetransmit()
        for datagram in early { datagram.withUnsafeBytes { handleDatagram($0) } }
    }

    /// A datagram from ICE, on the GLib loop's thread; the bytes are libnice's, valid
    /// during the call only. Records are decrypted under the connection's lock and fed
    /// to usrsctp after it is released (usrsctp may call ``transmit(_:)`` at once); the
    /// receive lock keeps the record buffer to one datagram at a time meanwhile.
    func handleDatagram(_ datagram: UnsafeRawBufferPointer) {
        receiving.withLock { records in
            let outcome = core.withLock { core -> (sctp: SCTPAssociation?, started: Bool, failure: RTCError?, closed: Bool)? in
                guard case .decrypt(let receiver) = core.lifecycle.datagramArrived(datagram) else { return nil }
                let (dtls, ice) = (receiver.session, receiver.ice)
                core.counters.datagramsReceived += 1
                core.counters.bytesReceived += datagram.count
                let wasHandshaking = dtls.state == .handshaking
                for reply in dtls.receive(datagram, into: records) { ice.send(reply) }
                switch dtls.state {
                case .connected where wasHandshaking:
                    let remote = receiver.handshake?.remote
                    let size = datagramSize(remoteTakes: remote?.maxDatagramSize, pathLimit: receiver.handshake?.localPathLimit)
                    let record = min(size, Configuration.largestRecordDatagram)
                    if size > configuration.mtu { core.outbox.limit = size }
                    dtls.setMTU(record)
                    let sctp = SCTPAssociation(
                        remotePort: remote?.sctpPort ?? SessionDescription.defaultSCTPPort,
                        pathMTU: record - DTLSSession.maxRecordOverhead, receiveLimit: configuration.receiveBufferSize,
                        maxMessageSize: configuration.maxMessageSize,
                        transmit: { [weak self] packet in self?.transmit(packet) ?? false },
                        onEvent: { [weak self] event in self?.handle(event) })
                    guard core.lifecycle.handshakeCompleted(association: sctp, datagramSize: size) else { return nil }
                    return (sctp, true, nil, false)
                case .failed(let error):
                    return (nil, false, error, false)
                case .closed:
                    return (receiver.association, false, nil, true)
                default:
                    return (receiver.association, false, nil, false)
                }
            }
            guard let outcome else { return }
            if let failure = outcome.failure { return tearDown(core.withLock { $0.lifecycle.dtlsFailed(failure) }) }
            // The peer sent close_notify: it closed the connection, and nothing more will
            // come (without this, only SCTP's heartbeats would notice, ~15 s later).
            if outcome.closed { return shutDown(.closed) }
            guard let sctp = outcome.sctp else { return }
            if outcome.started {
                do throws(RTCError) { try sctp.connect() } catch { return shutDown(.failed(error)) }
            }
            // What usrsctp answers (SACKs, data the window now lets out) leaves as one batch.
            batchingSends { for index in 0..<records.count { sctp.receive(records[index]) } }
        }
    }

    private func scheduleRetransmit() {
        let next = core.withLock { core -> (Duration, Int)? in
            guard let delay = core.lifecycle.handshakingSession?.retransmissionDelay, let generation = core.lifecycle.retransmissionScheduled() else {
                return nil
            }
            return (delay, generation)
        }
        guard let (delay, generation) = next else { return }
        Task { [weak self] in
            try? await Task.sleep(for: delay)
            self?.retransmit(generation)
        }
    }

    private func retransmit(_ generation: Int) {
        let failure = core.withLock { core -> RTCError? in
            guard case .retransmit(let dtls, let ice) = core.lifecycle.retransmissionDue(generation), dtls.state == .handshaking else { return nil }
            for datagram in dtls.handleTimeout() { ice.send(datagram) }
            if case .failed(let error) = dtls.state { return error }
            return nil
        }
        if let failure { return tearDown(core.withLock { $0.lifecycle.dtlsFailed(failure) }) }
        scheduleRetransmit()
    }

    // MARK: SCTP and channels

    private func handle(_ event: SCTPAssociation.Event) {
        switch event {
        case .up:
            guard case .announceConnected(let waiters) = core.withLock({ $0.lifecycle.associationUp() }) else { return }
            stateSink.yield(.connected)
            for waiter in waiters { waiter.resume(returning: .success(())) }
        case .message(let stream, let ppid, let data) where ppid == DCEP.PPID.control.rawValue:
            handleControl(stream: stream, data: data)
        case .message(let stream, let ppid, let data):
            let (channel, sctp) = core.withLock { ($0.lifecycle.channel(on: stream), $0.lifecycle.association) }
            channel?.deliver(ppid: ppid, data: data, from: sctp)
        case .streamsReset(let streams):
            for stream in streams {
                let (channel, sctp) = core.withLock { $0.lifecycle.streamReset(stream) }
                // Closed by the peer: close our direction too.
                if let channel, channel.markClosed() { sctp?.resetStream(stream) }
            }
        case .writable:
            let waiters = core.withLock { $0.lifecycle.associationWritable() }
            for waiter in waiters { waiter.resume() }
        case .down:
            // Not from inside usrsctp's callback: closing the socket there could deadlock.
            Task { self.shutDown(.closed) }
        }
    }

    private func handleControl(stream: UInt16, data: [UInt8]) {
        let message: DCEP.Message
        do { message = try DCEP.parse(data) } catch {
            logger.debug("bad DCEP message ignored", metadata: ["stream": "\(stream)", "reason": "\(error.reason)"])
            return
        }
        switch message {
        case .open(let open):
            let opened = core.withLock { core in
                core.lifecycle.peerOpenedChannel(on: stream) {
                    DataChannel(label: open.label, id: $0, reliability: open.reliability, connection: self)
                }
            }
            guard let (channel, sctp) = opened else { return }
            _ = sctp.send(stream: stream, ppid: DCEP.PPID.control.rawValue, data: DCEP.serialize(.ack), reliability: .reliableOrdered)
            channelSink.yield(channel)
        case .ack:
            core.withLock { $0.lifecycle.ackArrived(on: stream) }?.resume(returning: .success(()))
        }
    }

    func send(_ payload: [UInt8], ppid: DCEP.PPID, on channel: DataChannel) async throws(RTCError) {
        while true {
            let path = try core.withLock { core throws(RTCError) in try core.lifecycle.sendPath() }
            let (sctp, generation, limit) = (path.association, path.writableGeneration, path.maxMessageSize)
            guard limit == 0 || payload.count <= limit else {
                throw RTCError(.sctpFailed, "a \(payload.count)-byte message exceeds the peer's limit of \(limit)")
            }
            switch batchingSends({ sctp.send(stream: channel.id, ppid: ppid.rawValue, data: payload, reliability: channel.reliability) }) {
            case .sent: return
            case .wouldBlock: await waitUntilWritable(after: generation)
            case .failed(let code): throw RTCError(.sctpFailed, "SCTP refused the message (errno \(code))")
            }
        }
    }

    /// Waits for send space: until the next writable event, or 50 ms at most (a lost
    /// notification then costs a retry, never a hang).
    private func waitUntilWritable(after generation: Int) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let id = core.withLock { $0.lifecycle.awaitWritable(after: generation, writer: continuation) }
            guard let id else { return continuation.resume() }
            Task { [weak self] in
                try? await Task.sleep(for: .milliseconds(50))
                self?.core.withLock { $0.lifecycle.writableWaiterTimedOut(id) }?.resume()
            }
        }
    }

    /// Waits until SCTP is up. Cancelling the task ends the wait (with an error), so a
    /// caller's timeout works even when the peer never answers.
    func waitUntilConnected() async throws(RTCError) {
        let id = core.withLock { $0.lifecycle.makeWaiterID() }
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Result<Void, RTCError>, Never>) in
                let ready = core.withLock { core -> Result<Void, RTCError>? in
                    switch core.lifecycle.awaitConnection(id: id, waiter: continuation, cancelled: Task.isCancelled) {
                    case .connected: .success(())
                    case .closed: .failure(.connectionClosed)
                    case .cancelled: .failure(Self.cancelled)
                    case .waiting: nil
                    }
                }
                if let ready { continuation.resume(returning: ready) }
            }
        } onCancel: {
            core.withLock { $0.lifecycle.upWaiterCancelled(id) }?.resume(returning: .failure(Self.cancelled))
        }
        try result.get()
    }

    /// Sends a channel's DCEP open (`send`) and waits for the peer's ack; cancellable.
    func waitForAck(on stream: UInt16, afterSending send: () -> Void) async throws(RTCError) {
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Result<Void, RTCError>, Never>) in
                let refused = core.withLock { core -> RTCError? in
                    if Task.isCancelled { return Self.cancelled }
                    // Closed since the channel was made: nothing would ever resume it.
                    return core.lifecycle.awaitAck(on: stream, waiter: continuation) ? nil : .connectionClosed
                }
                if let refused { return continuation.resume(returning: .failure(refused)) }
                send()
            }
        } onCancel: {
            core.withLock { $0.lifecycle.ackArrived(on: stream) }?.resume(returning: .failure(Self.cancelled))
        }
        try result.get()
    }

    static let cancelled = RTCError(.closed, "cancelled while waiting for the connection")

    /// The SCTP association, once DTLS is up (tests).
    var association: SCTPAssociation? { core.withLock { $0.lifecycle.association } }

    func resetStream(_ stream: UInt16) {
        core.withLock { $0.lifecycle.association }?.resetStream(stream)
    }

    /// Ends the connection with `outcome`; idempotent.
    func shutDown(_ outcome: Lifecycle.Outcome) {
        tearDown(core.withLock { $0.lifecycle.close(outcome) })
    }

    /// Releases what a close took out of the lifecycle, outside the lock: SCTP (abort),
    /// DTLS (close_notify), ICE, then the channels and every waiter; the final state is
    /// announced last.
    func tearDown(_ action: Lifecycle.CloseAction) {
        guard case .tearDown(let parts) = action else { return }
        parts.association?.close()
        if let ice = parts.ice, let dtls = parts.session { for datagram in dtls.close() { ice.send(datagram) } }
        parts.ice?.close()
        for channel in parts.channels { channel.markClosed() }
        for waiter in parts.waiters { waiter.resume(returning: .failure(.connectionClosed)) }
        for writer in parts.writers { writer.resume() }
        candidateSink.finish()
        channelSink.finish()
        core.withLock { $0.lifecycle.teardownFinished() }
        stateSink.yield(parts.outcome.state)
        stateSink.finish()
    }
}
