import Synchronization

/// The connection's mutable part, only touched under its lock. No C call that calls
/// back into the connection (usrsctp) is ever made while the lock is held.
struct Core: ~Copyable {
    enum Role { case offerer, answerer }

    var role: Role?
    var local: SessionDescription?
    var remote: SessionDescription?
    var state = PeerConnection.State.new
    var ice: IceAgent?
    var iceConnected = false
    /// The largest UDP payload of the selected pair's path, when it is local.
    var localPathLimit: Int?
    /// The datagram size chosen when DTLS connected.
    var datagramSize: Int?
    /// Datagrams coalesced while usrsctp runs (a local path only); see `batchingSends`.
    var outbox = Outbox()
    var remoteCredentialsSet = false
    var queuedCandidates: [IceCandidate] = []
    var dtls: DTLSSession?
    var dtlsStarted = false
    /// Datagrams that arrived before DTLS could take them (role unknown, or ICE not
    /// yet able to send the reply); replayed once it can. Bounded.
    var early: [[UInt8]] = []
    var retransmitGeneration = 0
    var sctp: SCTPAssociation?
    var sctpUp = false
    var channels: [UInt16: DataChannel] = [:]
    var nextEvenStream: UInt16 = 0
    var nextOddStream: UInt16 = 1
    var upWaiters: [Int: CheckedContinuation<Result<Void, RTCError>, Never>] = [:]
    var ackWaiters: [UInt16: CheckedContinuation<Result<Void, RTCError>, Never>] = [:]
    var writableGeneration = 0
    var writableWaiters: [Int: CheckedContinuation<Void, Never>] = [:]
    var nextWaiter = 0
    var counters = PeerConnection.Statistics.Counters()

    static let earlyLimit = 64

    /// RFC 8832 §6: the DTLS client uses even stream ids, the server odd ones.
    mutating func nextStreamID(client: Bool) -> UInt16 {
        var id = client ? nextEvenStream : nextOddStream
        while channels[id] != nil { id &+= 2 }
        if client { nextEvenStream = id &+ 2 } else { nextOddStream = id &+ 2 }
        return id
    }
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
        core.withLock { $0.ice = ice }
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
        let mid = core.withLock { $0.role == .answerer ? ($0.remote?.mid ?? "0") : "0" }
        switch event {
        case .candidate(let candidate):
            candidateSink.yield(TrickledCandidate(candidate: candidate, mid: mid, usernameFragment: ice.credentials.ufrag))
        case .gatheringDone:
            candidateSink.yield(.endOfCandidates(mid: mid, usernameFragment: ice.credentials.ufrag))
        case .state(.connected), .state(.ready):
            // Judged once, on the first of connected/ready (the size is decided from it when
            // DTLS connects); the pair is asked outside our lock, as libnice takes its own.
            if !core.withLock({ $0.iceConnected }) {
                let limit = ice.selectedPair().flatMap { LocalPath.datagramLimit(local: $0.local, remote: $0.remote) }
                core.withLock { core in
                    if !core.iceConnected { core.localPathLimit = limit }
                    core.iceConnected = true
                }
            }
            startDTLSIfReady()
        case .state(.failed):
            shutDown(.failed(RTCError(.iceFailed, "no ICE candidate pair worked")))
        case .state:
            break
        }
    }

    // MARK: DTLS

    /// Starts the handshake once both the DTLS role is known and ICE can send, then
    /// replays what arrived early.
    func startDTLSIfReady() {
        let early = core.withLock { core -> [[UInt8]]? in
            guard core.iceConnected, let dtls = core.dtls, !core.dtlsStarted, let ice = core.ice else { return nil }
            core.dtlsStarted = true
            for datagram in dtls.start() { ice.send(datagram) }
            defer { core.early = [] }
            return core.early
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
                guard let dtls = core.dtls, core.dtlsStarted, let ice = core.ice else {
                    if core.early.count < Core.earlyLimit { core.early.append(Array(datagram)) }
                    return nil
                }
                core.counters.datagramsReceived += 1
                core.counters.bytesReceived += datagram.count
                let wasHandshaking = dtls.state == .handshaking
                for reply in dtls.receive(datagram, into: records) { ice.send(reply) }
                switch dtls.state {
                case .connected where wasHandshaking:
                    let size = datagramSize(remoteTakes: core.remote?.maxDatagramSize, pathLimit: core.localPathLimit)
                    let record = min(size, Configuration.largestRecordDatagram)
                    core.datagramSize = size
                    if size > configuration.mtu { core.outbox.limit = size }
                    dtls.setMTU(record)
                    let sctp = SCTPAssociation(
                        remotePort: core.remote?.sctpPort ?? SessionDescription.defaultSCTPPort,
                        pathMTU: record - DTLSSession.maxRecordOverhead,
                        transmit: { [weak self] packet in self?.transmit(packet) ?? false },
                        onEvent: { [weak self] event in self?.handle(event) })
                    core.sctp = sctp
                    return (sctp, true, nil, false)
                case .failed(let error):
                    return (nil, false, error, false)
                case .closed:
                    return (core.sctp, false, nil, true)
                default:
                    return (core.sctp, false, nil, false)
                }
            }
            guard let outcome else { return }
            if let failure = outcome.failure { return shutDown(.failed(failure)) }
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
            guard let delay = core.dtls?.retransmissionDelay else { return nil }
            core.retransmitGeneration += 1
            return (delay, core.retransmitGeneration)
        }
        guard let (delay, generation) = next else { return }
        Task { [weak self] in
            try? await Task.sleep(for: delay)
            self?.retransmit(generation)
        }
    }

    private func retransmit(_ generation: Int) {
        let failure = core.withLock { core -> RTCError? in
            guard core.retransmitGeneration == generation, let dtls = core.dtls, dtls.state == .handshaking, let ice = core.ice else { return nil }
            for datagram in dtls.handleTimeout() { ice.send(datagram) }
            if case .failed(let error) = dtls.state { return error }
            return nil
        }
        if let failure { return shutDown(.failed(failure)) }
        scheduleRetransmit()
    }

    // MARK: SCTP and channels

    private func handle(_ event: SCTPAssociation.Event) {
        switch event {
        case .up:
            let waiters = core.withLock { core in
                core.sctpUp = true
                defer { core.upWaiters = [:] }
                return core.upWaiters.values
            }
            setState(.connected)
            for waiter in waiters { waiter.resume(returning: .success(())) }
        case .message(let stream, let ppid, let data) where ppid == DCEP.PPID.control.rawValue:
            handleControl(stream: stream, data: data)
        case .message(let stream, let ppid, let data):
            core.withLock { $0.channels[stream] }?.deliver(ppid: ppid, data: data)
        case .streamsReset(let streams):
            for stream in streams {
                let (channel, sctp) = core.withLock { ($0.channels.removeValue(forKey: stream), $0.sctp) }
                // Closed by the peer: close our direction too.
                if let channel, channel.markClosed() { sctp?.resetStream(stream) }
            }
        case .writable:
            let waiters = core.withLock { core in
                core.writableGeneration += 1
                defer { core.writableWaiters = [:] }
                return core.writableWaiters.values
            }
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
            let (channel, sctp) = core.withLock { core -> (DataChannel?, SCTPAssociation?) in
                guard core.channels[stream] == nil else { return (nil, nil) }
                let channel = DataChannel(label: open.label, id: stream, reliability: open.reliability, connection: self)
                core.channels[stream] = channel
                return (channel, core.sctp)
            }
            guard let channel, let sctp else { return }
            _ = sctp.send(stream: stream, ppid: DCEP.PPID.control.rawValue, data: DCEP.serialize(.ack), reliability: .reliableOrdered)
            channelSink.yield(channel)
        case .ack:
            core.withLock { $0.ackWaiters.removeValue(forKey: stream) }?.resume(returning: .success(()))
        }
    }

    func send(_ payload: [UInt8], ppid: DCEP.PPID, on channel: DataChannel) async throws(RTCError) {
        while true {
            let (sctp, generation, limit) = try core.withLock { core throws(RTCError) in
                guard let sctp = core.sctp, !core.state.isFinal else { throw RTCError(.closed, "the connection is closed") }
                return (sctp, core.writableGeneration, core.remote?.maxMessageSize ?? 0)
            }
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
            let id = core.withLock { core -> Int? in
                guard core.writableGeneration == generation, !core.state.isFinal else { return nil }
                core.nextWaiter += 1
                core.writableWaiters[core.nextWaiter] = continuation
                return core.nextWaiter
            }
            guard let id else { return continuation.resume() }
            Task { [weak self] in
                try? await Task.sleep(for: .milliseconds(50))
                self?.core.withLock { $0.writableWaiters.removeValue(forKey: id) }?.resume()
            }
        }
    }

    /// Waits until SCTP is up. Cancelling the task ends the wait (with an error), so a
    /// caller's timeout works even when the peer never answers.
    func waitUntilConnected() async throws(RTCError) {
        let id = core.withLock { core in
            core.nextWaiter += 1
            return core.nextWaiter
        }
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Result<Void, RTCError>, Never>) in
                let ready = core.withLock { core -> Result<Void, RTCError>? in
                    if core.sctpUp { return .success(()) }
                    if core.state.isFinal { return .failure(RTCError(.closed, "the connection is closed")) }
                    if Task.isCancelled { return .failure(Self.cancelled) }
                    core.upWaiters[id] = continuation
                    return nil
                }
                if let ready { continuation.resume(returning: ready) }
            }
        } onCancel: {
            core.withLock { $0.upWaiters.removeValue(forKey: id) }?.resume(returning: .failure(Self.cancelled))
        }
        try result.get()
    }

    /// Sends a channel's DCEP open (`send`) and waits for the peer's ack; cancellable.
    func waitForAck(on stream: UInt16, afterSending send: () -> Void) async throws(RTCError) {
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Result<Void, RTCError>, Never>) in
                let cancelled = core.withLock { core -> Bool in
                    if Task.isCancelled { return true }
                    core.ackWaiters[stream] = continuation
                    return false
                }
                if cancelled { return continuation.resume(returning: .failure(Self.cancelled)) }
                send()
            }
        } onCancel: {
            core.withLock { $0.ackWaiters.removeValue(forKey: stream) }?.resume(returning: .failure(Self.cancelled))
        }
        try result.get()
    }

    static let cancelled = RTCError(.closed, "cancelled while waiting for the connection")

    func resetStream(_ stream: UInt16) {
        core.withLock { $0.sctp }?.resetStream(stream)
    }

    /// Ends the connection in `final` state (closed or failed); idempotent.
    func shutDown(_ final: State) {
        let parts = core.withLock {
            core -> (
                IceAgent?, DTLSSession?, SCTPAssociation?, [DataChannel], [CheckedContinuation<Result<Void, RTCError>, Never>],
                [CheckedContinuation<Void, Never>]
            )? in
            guard !core.state.isFinal else { return nil }
            core.state = final
            defer {
                (core.ice, core.sctp, core.channels, core.upWaiters, core.ackWaiters, core.writableWaiters) = (nil, nil, [:], [:], [:], [:])
            }
            return (
                core.ice, core.dtls, core.sctp, Array(core.channels.values), Array(core.upWaiters.values) + core.ackWaiters.values,
                Array(core.writableWaiters.values)
            )
        }
        guard let (ice, dtls, sctp, channels, waiters, writers) = parts else { return }
        sctp?.close()
        if let ice, let dtls { for datagram in dtls.close() { ice.send(datagram) } }
        ice?.close()
        for channel in channels { channel.markClosed() }
        let error = RTCError(.closed, "the connection is closed")
        for waiter in waiters { waiter.resume(returning: .failure(error)) }
        for writer in writers { writer.resume() }
        candidateSink.finish()
        channelSink.finish()
        stateSink.yield(final)
        stateSink.finish()
    }
}
