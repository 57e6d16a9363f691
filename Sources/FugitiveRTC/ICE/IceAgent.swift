import CFugitiveRTCShim
import CLibNice
import Glibc
import Synchronization

/// What an ``IceAgent`` reports, in order, on its ``IceAgent/events`` sequence.
public enum IceEvent: Sendable, Equatable {
    /// A local candidate to trickle to the peer.
    case candidate(IceCandidate)
    /// Gathering finished: signal end-of-candidates.
    case gatheringDone
    case state(IceAgent.State)
}

/// ICE for one data-channel transport (one stream, one component) through libnice:
/// trickled candidates, controlling/controlled role, STUN/TURN from the configuration.
/// libnice calls back on the ``GLibEventLoop``'s thread; events go out on an async
/// sequence, received datagrams straight to `onDatagram` (the DTLS layer).
public final class IceAgent: Sendable {
    /// ICE's view of the transport (libnice's component states).
    public enum State: Sendable, Equatable {
        case gathering, connecting, connected, ready, failed, disconnected
    }

    /// A TURN server (RFC 8656), for relayed candidates.
    public struct TurnServer: Sendable, Equatable {
        /// How the TURN server is reached; the relayed candidates are UDP either way.
        public enum Transport: Sendable, Equatable {
            /// `turn:` (the default).
            case udp
            /// `turn:…?transport=tcp` (RFC 6062): for networks that let no UDP out.
            case tcp
            /// `turns:`: TCP inside TLS, usually on port 443 or 5349.
            case tls
        }

        /// An IP address: libnice does not resolve names.
        public var host: String
        public var port: UInt16
        public var username: String
        public var password: String
        public var transport: Transport

        public init(host: String, port: UInt16 = 3478, username: String, password: String, transport: Transport = .udp) {
            self.host = host
            self.port = port
            self.username = username
            self.password = password
            self.transport = transport
        }

        var relayType: NiceRelayType {
            switch transport {
            case .udp: NICE_RELAY_TYPE_TURN_UDP
            case .tcp: NICE_RELAY_TYPE_TURN_TCP
            case .tls: NICE_RELAY_TYPE_TURN_TLS
            }
        }
    }

    /// Where agents get their candidates.
    public struct Configuration: Sendable {
        /// A STUN server (`host`, `port`) for server-reflexive candidates.
        public var stunServer: (host: String, port: UInt16)?
        /// TURN servers for relayed candidates.
        public var turnServers: [TurnServer]
        /// Local UDP ports to use; `nil` lets the system choose.
        public var portRange: ClosedRange<UInt16>?
        /// Only these local addresses are used (e.g. `["127.0.0.1"]` in tests); empty
        /// means every interface.
        public var localAddresses: [String]

        public init(
            stunServer: (host: String, port: UInt16)? = nil, turnServers: [TurnServer] = [], portRange: ClosedRange<UInt16>? = nil,
            localAddresses: [String] = []
        ) {
            self.stunServer = stunServer
            self.turnServers = turnServers
            self.portRange = portRange
            self.localAddresses = localAddresses
        }
    }

    /// Control events, in order.
    public let events: AsyncStream<IceEvent>
    /// This agent's credentials, for the local SDP.
    public let credentials: IceCredentials
    private let agent: CHandle
    private let stream: UInt32
    private let loop: GLibEventLoop
    private let callbacks: Unmanaged<Callbacks>
    private let closed = Atomic(false)

    /// - Parameters:
    ///   - controlling: the offerer controls (RFC 8445 §6.1.1), unless the peer is ICE-lite.
    ///   - onDatagram: called on the loop's thread with each datagram received; the
    ///     bytes are valid during the call only.
    public init(
        loop: GLibEventLoop, controlling: Bool, configuration: Configuration = .init(),
        onDatagram: @escaping @Sendable (UnsafeRawBufferPointer) -> Void
    ) throws(RTCError) {
        guard let raw = nice_agent_new_full(loop.context, NICE_COMPATIBILITY_RFC5245, NICE_AGENT_OPTION_ICE_TRICKLE) else {
            throw RTCError(.iceFailed, "cannot create an ICE agent")
        }
        let object = UnsafeMutableRawPointer(raw)
        fugitive_g_object_set_boolean(object, "controlling-mode", controlling ? 1 : 0)
        // UPnP port mapping stalls gathering on networks without it; TCP candidates are
        // of no use to browsers' data channels.
        fugitive_g_object_set_boolean(object, "upnp", 0)
        fugitive_g_object_set_boolean(object, "ice-tcp", 0)
        // Connectivity checks go out every 5 ms rather than libnice's 20 (RFC 8445 §14.2
        // allows 5 ms for a data session's few checks): with host, server-reflexive and
        // relayed candidates on both sides, the pairs' checks were most of a link's setup.
        fugitive_g_object_set_uint(object, "stun-pacing-timer", 5)
        if let stun = configuration.stunServer {
            fugitive_g_object_set_string(object, "stun-server", stun.host)
            fugitive_g_object_set_uint(object, "stun-server-port", UInt32(stun.port))
        }
        for text in configuration.localAddresses {
            var address = NiceAddress()
            guard nice_address_set_from_string(&address, text) != 0 else {
                g_object_unref(object)
                throw RTCError(.iceFailed, "not an IP address: \(text)")
            }
            nice_agent_add_local_address(raw, &address)
        }
        let stream = nice_agent_add_stream(raw, 1)
        if let range = configuration.portRange {
            nice_agent_set_port_range(raw, stream, 1, UInt32(range.lowerBound), UInt32(range.upperBound))
        }
        for turn in configuration.turnServers {
            guard nice_agent_set_relay_info(raw, stream, 1, turn.host, UInt32(turn.port), turn.username, turn.password, turn.relayType) != 0
            else {
                g_object_unref(object)
                throw RTCError(.iceFailed, "TURN server refused: \(turn.host):\(turn.port) (an IP address is needed)")
            }
        }
        let credentials = IceCredentials.random()
        nice_agent_set_local_credentials(raw, stream, credentials.ufrag, credentials.password)

        let (events, continuation) = AsyncStream.makeStream(of: IceEvent.self)
        let callbacks = Unmanaged.passRetained(Callbacks(events: continuation, onDatagram: onDatagram))
        let context = callbacks.toOpaque()
        fugitive_g_signal_connect(object, "new-candidate-full", unsafeBitCast(Self.onCandidate, to: UnsafeRawPointer.self), context)
        fugitive_g_signal_connect(object, "candidate-gathering-done", unsafeBitCast(Self.onGatheringDone, to: UnsafeRawPointer.self), context)
        fugitive_g_signal_connect(object, "component-state-changed", unsafeBitCast(Self.onStateChanged, to: UnsafeRawPointer.self), context)
        nice_agent_attach_recv(raw, stream, 1, loop.context, Self.onReceive, context)

        // A reference of this object's own, dropped in deinit: calls made after close()
        // (send, selectedPair) then reach a live agent, not freed memory.
        g_object_ref(object)
        self.agent = CHandle(raw)
        self.stream = stream
        self.loop = loop
        self.callbacks = callbacks
        self.credentials = credentials
        self.events = events
    }

    deinit {
        close()
        let agent = agent
        loop.perform { g_object_unref(UnsafeMutableRawPointer(agent.pointer)) }
    }

    /// Starts gathering local candidates; each is reported as it is found.
    public func gather() throws(RTCError) {
        callbacks.takeUnretainedValue().gatheringStarted.store(true, ordering: .releasing)
        guard nice_agent_gather_candidates(agent.pointer, stream) != 0 else {
            throw RTCError(.iceFailed, "candidate gathering could not start (no usable local address?)")
        }
    }

    /// Sets the peer's ufrag and password from its SDP; checks start once candidates come.
    public func setRemoteCredentials(_ remote: IceCredentials) throws(RTCError) {
        guard nice_agent_set_remote_credentials(agent.pointer, stream, remote.ufrag, remote.password) != 0 else {
            throw RTCError(.iceFailed, "remote ICE credentials refused")
        }
    }

    /// Adds one candidate of the peer (from its SDP or trickled). Candidates libnice
    /// cannot use (mDNS `.local` names, TCP) are refused with an error the caller may
    /// log and ignore.
    public func addRemoteCandidate(_ candidate: IceCandidate) throws(RTCError) {
        guard let parsed = nice_agent_parse_remote_candidate_sdp(agent.pointer, stream, "a=" + candidate.sdpAttribute) else {
            throw RTCError(.iceFailed, "unusable remote candidate: \(candidate.sdpAttribute)")
        }
        let list = g_slist_append(nil, UnsafeMutableRawPointer(parsed))
        let added = nice_agent_set_remote_candidates(agent.pointer, stream, 1, list)
        g_slist_free(list)
        nice_candidate_free(parsed)
        guard added == 1 else { throw RTCError(.iceFailed, "remote candidate refused: \(candidate.sdpAttribute)") }
    }

    /// The peer has no more candidates.
    public func endOfRemoteCandidates() {
        nice_agent_peer_candidate_gathering_done(agent.pointer, stream)
    }

    /// Sends one datagram on the selected pair; false when none is selected yet.
    @discardableResult
    public func send(_ datagram: [UInt8]) -> Bool {
        datagram.withUnsafeBytes { send($0) }
    }

    /// Sends one datagram on the selected pair; false when none is selected yet.
    @discardableResult
    public func send(_ datagram: UnsafeRawBufferPointer) -> Bool {
        nice_agent_send(agent.pointer, stream, 1, UInt32(datagram.count), datagram.baseAddress?.assumingMemoryBound(to: CChar.self)) >= 0
    }

    /// The candidate pair ICE selected, once it has.
    public func selectedPair() -> (local: IceCandidate, remote: IceCandidate)? {
        var local: UnsafeMutablePointer<NiceCandidate>?
        var remote: UnsafeMutablePointer<NiceCandidate>?
        guard !closed.load(ordering: .acquiring),
            nice_agent_get_selected_pair(agent.pointer, stream, 1, &local, &remote) != 0, let local, let remote
        else { return nil }
        // The agent owns both candidates; only their SDP form leaves here.
        func describe(_ candidate: UnsafeMutablePointer<NiceCandidate>) -> IceCandidate? {
            guard let text = nice_agent_generate_local_candidate_sdp(agent.pointer, candidate) else { return nil }
            defer { g_free(text) }
            return try? IceCandidate(sdpAttribute: String(cString: text))
        }
        guard let localCandidate = describe(local), let remoteCandidate = describe(remote) else { return nil }
        return (localCandidate, remoteCandidate)
    }

    /// Stops the agent: no event or datagram arrives after the loop has run the
    /// teardown. Idempotent.
    public func close() {
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        let (agent, stream, callbacks) = (agent, stream, callbacks)
        let context = CHandle(loop.context)
        // On the loop's thread, so that no callback runs concurrently with the teardown.
        loop.perform {
            nice_agent_attach_recv(agent.pointer, stream, 1, context.pointer, nil, nil)
            g_signal_handlers_disconnect_matched(
                UnsafeMutableRawPointer(agent.pointer), G_SIGNAL_MATCH_DATA, 0, 0, nil, nil, callbacks.toOpaque())
            // While gathering runs, libnice may still be resolving the STUN server (it does
            // so asynchronously, even for an address), and its callback dereferences the
            // stream without checking that it still exists: removing the stream now
            // crashed the process (a partner that leaves at once). The agent's own teardown
            // (the last reference, dropped in deinit) removes the stream instead.
            let state = callbacks.takeUnretainedValue()
            if state.gatheringDone.load(ordering: .acquiring) || !state.gatheringStarted.load(ordering: .acquiring) {
                nice_agent_remove_stream(agent.pointer, stream)
            }
            g_object_unref(UnsafeMutableRawPointer(agent.pointer))
            state.events.finish()
            callbacks.release()
        }
    }

    // MARK: Callbacks (on the loop's thread)

    final class Callbacks: @unchecked Sendable {
        /// Whether gathering was started (from any thread) and whether libnice said it is
        /// done (on the loop's thread).
        let gatheringStarted = Atomic(false)
        let gatheringDone = Atomic(false)
        let events: AsyncStream<IceEvent>.Continuation
        let onDatagram: @Sendable (UnsafeRawBufferPointer) -> Void
        init(events: AsyncStream<IceEvent>.Continuation, onDatagram: @escaping @Sendable (UnsafeRawBufferPointer) -> Void) {
            self.events = events
            self.onDatagram = onDatagram
        }
        static func from(_ data: UnsafeMutableRawPointer?) -> Callbacks { Unmanaged.fromOpaque(data!).takeUnretainedValue() }
    }

    private static let onCandidate: @convention(c) (OpaquePointer?, UnsafeMutablePointer<NiceCandidate>?, UnsafeMutableRawPointer?) -> Void = {
        agent, candidate, data in
        guard let agent, let candidate, let text = nice_agent_generate_local_candidate_sdp(agent, candidate) else { return }
        defer { g_free(text) }
        if let parsed = try? IceCandidate(sdpAttribute: String(cString: text)) {
            Callbacks.from(data).events.yield(.candidate(parsed))
        }
    }

    private static let onGatheringDone: @convention(c) (OpaquePointer?, UInt32, UnsafeMutableRawPointer?) -> Void = { _, _, data in
        Callbacks.from(data).gatheringDone.store(true, ordering: .releasing)
        Callbacks.from(data).events.yield(.gatheringDone)
    }

    private static let onStateChanged: @convention(c) (OpaquePointer?, UInt32, UInt32, UInt32, UnsafeMutableRawPointer?) -> Void = {
        agent, stream, component, state, data in
        let mapped: State? =
            switch NiceComponentState(rawValue: state) {
            case NICE_COMPONENT_STATE_GATHERING: .gathering
            case NICE_COMPONENT_STATE_CONNECTING: .connecting
            case NICE_COMPONENT_STATE_CONNECTED: .connected
            case NICE_COMPONENT_STATE_READY: .ready
            case NICE_COMPONENT_STATE_FAILED: .failed
            case NICE_COMPONENT_STATE_DISCONNECTED: .disconnected
            default: nil
            }
        if mapped == .connected || mapped == .ready, let agent { enlargeBuffers(agent, stream: stream, component: component) }
        if let mapped { Callbacks.from(data).events.yield(.state(mapped)) }
    }

    /// Gives the selected pair's UDP socket 4 MiB buffers: the default (~200 KiB)
    /// overflows while a bulk transfer waits for DTLS and SCTP to catch up, and every
    /// dropped datagram costs SCTP a retransmission and a smaller window.
    private static func enlargeBuffers(_ agent: OpaquePointer, stream: UInt32, component: UInt32) {
        guard let socket = nice_agent_get_selected_socket(agent, stream, component) else { return }
        defer { g_object_unref(UnsafeMutableRawPointer(socket)) }
        let descriptor = g_socket_get_fd(socket)
        var size: Int32 = 4 << 20
        for (force, plain) in [(SO_RCVBUFFORCE, SO_RCVBUF), (SO_SNDBUFFORCE, SO_SNDBUF)] {
            // The forcing variant passes net.core.*mem_max but needs CAP_NET_ADMIN.
            if setsockopt(descriptor, SOL_SOCKET, force, &size, socklen_t(MemoryLayout<Int32>.size)) != 0 {
                _ = setsockopt(descriptor, SOL_SOCKET, plain, &size, socklen_t(MemoryLayout<Int32>.size))
            }
        }
    }

    private static let onReceive: NiceAgentRecvFunc = { _, _, _, length, buffer, data in
        guard let buffer else { return }
        // libnice's buffer, valid for this call: the receiver copies what it keeps.
        Callbacks.from(data).onDatagram(UnsafeRawBufferPointer(start: buffer, count: Int(length)))
    }
}
