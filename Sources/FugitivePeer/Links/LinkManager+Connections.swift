import FugitiveRTC
import FugitiveWire

extension LinkManager {
    /// Starts the WebRTC connection the server paired this peer into: the offerer sends
    /// its offer and opens the channel, the answerer waits for both.
    func open(_ pair: Pair) {
        let paired = ContinuousClock.now
        var rtc = configuration.connection
        let connection: PeerConnection
        do {
            let iceServers = state.withLock { $0.iceServers }
            rtc.apply(iceServers)
            connection = try PeerConnection(configuration: rtc, loop: loop, logger: logger)
        } catch {
            logger.warning("cannot create a peer connection", metadata: ["error": "\(error)"])
            server.send(.link(LinkReport(peer: pair.peer, state: .failed)))
            return
        }
        let (described, describedSink) = AsyncStream.makeStream(of: Void.self)
        let (accepted, stale) = state.withLock { state -> (Bool, Entry?) in
            // A peer caught lying is not linked again.
            guard !state.liars.values.contains(where: { $0.contains(pair.peer) }) else { return (false, nil) }
            // The server pairs only peers it holds unpaired, so an entry for this peer is
            // stale (the other side ended it, or its instance went): the new pair replaces
            // it. Refusing would fail the partner's attempt while ours lingers, and both
            // could keep missing each other.
            let stale = state.entries[pair.peer]
            guard state.entries.count - (stale == nil ? 0 : 1) < configuration.maxLinks else { return (false, nil) }
            state.entries[pair.peer] = Entry(connection: connection, offerer: pair.offerer, described: describedSink)
            return (true, stale)
        }
        if let stale {
            logger.debug("a new pair replaces a stale link", metadata: ["peer": "\(pair.peer)"])
            stale.task?.cancel()
            stale.connection.close()
            if stale.link != nil { emit(.unlinked(peer: pair.peer, reason: "replaced by a new pair")) }
        }
        guard accepted else {
            connection.close()
            server.send(.link(LinkReport(peer: pair.peer, state: .failed)))
            return
        }
        let task = Task {
            await self.maintain(pair.peer, connection, offerer: pair.offerer, paired: paired, described: described, describedSink: describedSink)
        }
        state.withLock { $0.entries[pair.peer]?.task = task }
    }

    /// One link's whole life: signalling, channel, use, end.
    private func maintain(
        _ peer: PeerID, _ connection: PeerConnection, offerer: Bool, paired: ContinuousClock.Instant, described: AsyncStream<Void>,
        describedSink: AsyncStream<Void>.Continuation
    ) async {
        let trickle = Task {
            for await _ in described {}
            for await local in connection.localCandidates {
                let signal =
                    local.isEndOfCandidates
                    ? Signal(peer: peer, kind: .endOfCandidates, mid: local.mid)
                    : Signal(peer: peer, kind: .candidate, candidate: local.candidateString, mid: local.mid)
                server.send(.signal(signal))
            }
        }
        defer { trickle.cancel() }
        // The other side's channels by label: the main one, and the control channel
        // (PeerLink+Control), which may open before or after it. An unlabelled first
        // channel is the main one, as older peers open it.
        let (mains, mainSink) = AsyncStream.makeStream(of: DataChannel.self)
        let (controls, controlSink) = AsyncStream.makeStream(of: DataChannel.self)
        let sorter = Task {
            for await channel in connection.incomingChannels {
                if channel.label == PeerLink.controlLabel { controlSink.yield(channel) } else { mainSink.yield(channel) }
            }
            mainSink.finish()
            controlSink.finish()
        }
        defer { sorter.cancel() }
        let channel: DataChannel?
        if offerer {
            do {
                server.send(.signal(Signal(peer: peer, kind: .offer, sdp: try connection.createOffer().sdp)))
                describedSink.finish()
            } catch {
                return fail(peer, connection, "cannot make an offer: \(error)")
            }
            channel = await withTimeout(configuration.connectTimeout) {
                try await connection.createDataChannel(label: PeerLink.mainLabel, waitingForAck: false)
            }
        } else {
            channel =
                await withTimeout(configuration.connectTimeout) { () -> DataChannel? in
                    for await channel in mains { return channel }
                    return nil
                } ?? nil
        }
        guard let channel, !Task.isCancelled else { return fail(peer, connection, "no channel within \(configuration.connectTimeout)") }
        let setup = ContinuousClock.now - paired
        // ICE has selected its pair by the time the channel is open.
        let route = Self.route(of: connection)
        let relayed = route?.isRelayed == true
        let link = PeerLink(
            channel: channel, store: store, slots: slots, configuration: configuration.peerLink, logger: logger,
            onUpload: { [emit] upload in
                emit(.served(peer: peer, digest: upload.digest, bytes: upload.bytes, transferredBytes: upload.transferredBytes, relayed: relayed))
            },
            uploadFaultForTesting: uploadFault)
        // A failed or closed connection ends the channel too, so `run` returns.
        let watch = Task {
            for await state in connection.states {
                if case .failed = state { break }
                if state == .closed { break }
            }
            link.close()
        }
        defer { watch.cancel() }
        let reader = Task { await link.run() }
        // The control channel: the offerer opens it once the main one is open (so that it
        // never arrives first at a peer that takes the first channel as the main one).
        let control = Task {
            if offerer {
                if let control = try? await connection.createDataChannel(label: PeerLink.controlLabel, waitingForAck: false) {
                    link.attachControl(control)
                }
            } else {
                for await control in controls {
                    link.attachControl(control)
                    break
                }
            }
        }
        defer { control.cancel() }
        let rtt = await link.measureRoundTrip()
        let stillOurs = state.withLock { state -> Bool in
            guard state.entries[peer]?.connection === connection else { return false }
            state.entries[peer]?.link = link
            state.entries[peer]?.roundTrip = rtt
            return true
        }
        guard stillOurs else {
            reader.cancel()
            link.close()
            return
        }
        server.send(.link(LinkReport(peer: peer, state: .connected, rttMillis: rtt?.milliseconds, route: route)))
        emit(.linked(peer: peer, roundTrip: rtt, route: route, setup: setup))
        await reader.value
        // A relayed link that ends may have lost its TURN server: the replacement should
        // not be made with a stale address (resolved before the end asks for it).
        if relayed { iceServersMayHaveMoved() }
        // The channel closed (the other side went, or this side dropped it).
        if end(peer, connection, report: .disconnected) { emit(.unlinked(peer: peer, reason: "channel closed")) }
    }

    private func fail(_ peer: PeerID, _ connection: PeerConnection, _ reason: String) {
        logger.debug("link failed", metadata: ["peer": "\(peer)", "reason": "\(reason)"])
        iceServersMayHaveMoved()
        end(peer, connection, report: .failed)
    }

    /// Closes `connection` and, if it is still the one kept for `peer` (a `drop` may have
    /// removed it already), forgets it, reports `report` and asks for a replacement.
    @discardableResult
    private func end(_ peer: PeerID, _ connection: PeerConnection, report: LinkState) -> Bool {
        let wasOurs = state.withLock { state -> Bool in
            guard state.entries[peer]?.connection === connection else { return false }
            state.entries[peer] = nil
            return true
        }
        connection.close()
        if wasOurs {
            server.send(.link(LinkReport(peer: peer, state: report)))
            checkTarget()
        }
        return wasOurs
    }

    /// Applies a relayed offer, answer or candidate to the pair's connection.
    func receive(_ signal: Signal) {
        guard let entry = state.withLock({ $0.entries[signal.peer] }) else {
            logger.debug("signal for no pending link", metadata: ["peer": "\(signal.peer)"])
            return
        }
        let connection = entry.connection
        do {
            switch signal.kind {
            case .offer:
                guard !entry.offerer, let sdp = signal.sdp else { throw LinkSignalError("an offer to the offerer") }
                try connection.setRemoteDescription(SessionDescription(kind: .offer, sdp: sdp))
                server.send(.signal(Signal(peer: signal.peer, kind: .answer, sdp: try connection.createAnswer().sdp)))
                entry.described.finish()
            case .answer:
                guard entry.offerer, let sdp = signal.sdp else { throw LinkSignalError("an answer to the answerer") }
                try connection.setRemoteDescription(SessionDescription(kind: .answer, sdp: sdp))
            case .candidate:
                connection.addRemoteCandidate(try TrickledCandidate(candidateString: signal.candidate ?? "", mid: signal.mid ?? "0"))
            case .endOfCandidates:
                connection.addRemoteCandidate(.endOfCandidates(mid: signal.mid ?? "0"))
            }
        } catch {
            logger.debug("bad signal; dropping the link", metadata: ["peer": "\(signal.peer)", "error": "\(error)"])
            drop(signal.peer, report: .failed, reason: "bad signal")
        }
    }

    /// Ends the link to `peer` (if any), telling the server `report` when given.
    func drop(_ peer: PeerID, report: LinkState?, reason: String) {
        guard let entry = state.withLock({ $0.entries.removeValue(forKey: peer) }) else { return }
        entry.close()
        if let report { server.send(.link(LinkReport(peer: peer, state: report))) }
        emit(.unlinked(peer: peer, reason: reason))
        checkTarget()
    }

    func closeAll() {
        let entries = state.withLock { state in
            defer { state.entries = [:] }
            return Array(state.entries.values)
        }
        for entry in entries { entry.close() }
    }

    /// The types of the candidate pair ICE selected, for the server's statistics.
    static func route(of connection: PeerConnection) -> LinkRoute? {
        let statistics = connection.statistics()
        guard let local = statistics.selectedLocalCandidate?.type, let remote = statistics.selectedRemoteCandidate?.type,
            let localKind = LinkRoute.Kind(rawValue: local.rawValue), let remoteKind = LinkRoute.Kind(rawValue: remote.rawValue)
        else { return nil }
        return LinkRoute(local: localKind, remote: remoteKind)
    }
}

struct LinkSignalError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
