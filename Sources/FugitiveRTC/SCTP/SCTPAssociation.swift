import CUsrsctp
import Foundation
import Synchronization

/// One SCTP association over DTLS (RFC 8261), through usrsctp in AF_CONN mode: usrsctp
/// hands packets to ``transmit`` (which encrypts them and sends them over ICE) and is
/// fed the packets DTLS decrypted with ``receive(_:)``.
///
/// Messages are read from the socket (usrsctp's upcall API, not its receive callback,
/// which drains the socket whatever the application does): once the application holds
/// ``receiveLimit`` bytes of messages it has not taken (``hold(_:)``/``release(_:)``),
/// reading stops, usrsctp's receive buffer fills and the window it advertises closes, so
/// the peer's sends wait — back-pressure from the reader to the sender.
///
/// usrsctp calls back on whichever thread drove it (the ICE loop feeding packets, a
/// sender, the timer thread); events go to `onEvent` on that thread. Never call in here
/// while holding a lock that `transmit` takes: usrsctp re-enters it synchronously.
final class SCTPAssociation: @unchecked Sendable {
    enum Event: Sendable {
        /// The association is established.
        case up
        /// A whole message arrived.
        case message(stream: UInt16, ppid: UInt32, data: [UInt8])
        /// The peer reset these incoming streams: their channels are closed.
        case streamsReset([UInt16])
        /// Send space came free.
        case writable
        /// The association ended (shutdown, abort, or never came up).
        case down
    }

    /// What became of a message handed to ``send(stream:ppid:data:reliability:)``.
    enum SendResult: Equatable {
        case sent
        /// The send buffer is full: wait for ``Event/writable`` and try again.
        case wouldBlock
        case failed(Int32)
    }

    let localPort: UInt16
    let remotePort: UInt16
    /// The largest SCTP packet usrsctp builds (one packet rides in one DTLS record).
    let pathMTU: Int
    /// Bytes of delivered messages the application may hold before reading stops.
    let receiveLimit: Int
    private let transmitPacket: @Sendable (UnsafeRawBufferPointer) -> Bool
    let onEvent: @Sendable (Event) -> Void
    /// The largest message taken (what this side advertised, `a=max-message-size`).
    let maxMessageSize: Int
    /// Bytes of messages that arrive in pieces (partial delivery), per stream.
    let partial = Mutex(Partial())

    struct Partial {
        var pieces: [UInt16: [UInt8]] = [:]
        /// Streams whose current message is over the limit: the rest of it is dropped.
        var discarding: Set<UInt16> = []
        var oversized = 0
    }
    private let socket = Mutex<CHandle?>(nil)
    private let registration = Mutex<Unmanaged<SCTPAssociation>?>(nil)
    /// Who reads, and whether reading waits for the application (SCTPAssociation+Reading).
    let reading = Mutex(Reading())
    /// The socket as the reader uses it: held for a whole read, so that ``close()`` (which
    /// takes it before closing) never frees the socket under a read.
    let readSocket = Mutex<CHandle?>(nil)
    /// Set when a send found the buffer full: the next upcall that finds space says so.
    let wantsWritable = Atomic<Bool>(false)
    /// ``Event/down`` was sent (from the notification, or from the socket's error while
    /// reading waited): it is sent once.
    private let wentDown = Atomic<Bool>(false)
    /// The send buffer's size (SO_SNDBUF, read when the socket opens).
    private(set) var sendSpace = 4 << 20
    /// Where reads land; only the thread that reads (``Reading/active``) touches it.
    let readBuffer = UnsafeMutableRawPointer.allocate(byteCount: SCTPAssociation.readSize, alignment: 16)

    init(
        localPort: UInt16 = 5000, remotePort: UInt16 = 5000, pathMTU: Int = 1136, receiveLimit: Int = 1 << 20,
        maxMessageSize: Int = SessionDescription.advertisedMaxMessageSize,
        transmit: @escaping @Sendable (UnsafeRawBufferPointer) -> Bool, onEvent: @escaping @Sendable (Event) -> Void
    ) {
        self.localPort = localPort
        self.remotePort = remotePort
        self.pathMTU = pathMTU
        self.receiveLimit = receiveLimit
        self.maxMessageSize = maxMessageSize
        self.transmitPacket = transmit
        self.onEvent = onEvent
    }

    deinit { readBuffer.deallocate() }

    /// Opens the socket and starts the association (both sides connect: SCTP resolves
    /// the simultaneous INITs).
    func connect() throws(RTCError) {
        SCTPStack.start()
        // Registered (and kept alive) until close: usrsctp calls back with this address.
        let retained = Unmanaged.passRetained(self)
        registration.withLock { $0 = retained }
        let address = retained.toOpaque()
        usrsctp_register_address(address)
        // No receive callback: messages wait in the socket until this side reads them.
        guard let socket = usrsctp_socket(AF_CONN, Int32(SOCK_STREAM.rawValue), Int32(IPPROTO_SCTP), nil, nil, 0, nil) else {
            close()
            throw RTCError(.sctpFailed, "usrsctp_socket failed (errno \(errno))")
        }
        self.socket.withLock { $0 = CHandle(socket) }
        readSocket.withLock { $0 = CHandle(socket) }
        usrsctp_set_non_blocking(socket, 1)
        var space: Int32 = 0
        var spaceLength = socklen_t(MemoryLayout<Int32>.size)
        if usrsctp_getsockopt(socket, SOL_SOCKET, SO_SNDBUF, &space, &spaceLength) == 0, space > 0 { sendSpace = Int(space) }
        usrsctp_set_upcall(socket, Self.onUpcall, address)
        var failures: [Int32] = []
        func option<T>(_ level: Int32, _ name: Int32, _ value: T) {
            var value = value
            if usrsctp_setsockopt(socket, level, name, &value, socklen_t(MemoryLayout<T>.size)) != 0 { failures.append(name) }
        }
        let sctp = Int32(IPPROTO_SCTP)
        // Closing aborts at once instead of lingering on unacknowledged data.
        option(SOL_SOCKET, SO_LINGER, linger(l_onoff: 1, l_linger: 0))
        option(
            sctp, SCTP_ENABLE_STREAM_RESET,
            sctp_assoc_value(assoc_id: sctp_assoc_t(SCTP_ALL_ASSOC), assoc_value: UInt32(SCTP_ENABLE_RESET_STREAM_REQ)))
        option(sctp, SCTP_RECVRCVINFO, Int32(1))
        option(sctp, SCTP_NODELAY, Int32(1))
        for event in [SCTP_ASSOC_CHANGE, SCTP_STREAM_RESET_EVENT, SCTP_SENDER_DRY_EVENT] {
            option(sctp, SCTP_EVENT, sctp_event(se_assoc_id: sctp_assoc_t(SCTP_ALL_ASSOC), se_type: UInt16(event), se_on: 1))
        }
        // usrsctp does no path MTU discovery over AF_CONN: the packet size is ours to set,
        // so that every packet fits the datagram budget once DTLS has wrapped it.
        var path = sctp_paddrparams()
        path.spp_assoc_id = sctp_assoc_t(SCTP_FUTURE_ASSOC)
        path.spp_flags = UInt32(SPP_PMTUD_DISABLE)
        path.spp_pathmtu = UInt32(pathMTU)
        option(sctp, SCTP_PEER_ADDR_PARAMS, path)
        var streams = sctp_initmsg()
        streams.sinit_num_ostreams = 1024
        streams.sinit_max_instreams = 1024
        option(sctp, SCTP_INITMSG, streams)
        guard failures.isEmpty else {
            close()
            throw RTCError(.sctpFailed, "usrsctp_setsockopt refused options \(failures)")
        }
        var local = Self.socketAddress(port: localPort, address: address)
        var remote = Self.socketAddress(port: remotePort, address: address)
        let bound = withUnsafeMutablePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { usrsctp_bind(socket, $0, socklen_t(MemoryLayout<sockaddr_conn>.size)) }
        }
        guard bound == 0 else {
            close()
            throw RTCError(.sctpFailed, "usrsctp_bind failed (errno \(errno))")
        }
        let connected = withUnsafeMutablePointer(to: &remote) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { usrsctp_connect(socket, $0, socklen_t(MemoryLayout<sockaddr_conn>.size)) }
        }
        guard connected == 0 || errno == EINPROGRESS else {
            close()
            throw RTCError(.sctpFailed, "usrsctp_connect failed (errno \(errno))")
        }
    }

    /// A packet DTLS decrypted (usrsctp copies what it keeps).
    func receive(_ packet: UnsafeRawBufferPointer) {
        guard let address = registration.withLock({ $0?.toOpaque() }) else { return }
        usrsctp_conninput(address, packet.baseAddress, packet.count, 0)
    }

    /// Queues one message on `stream`.
    func send(stream: UInt16, ppid: UInt32, data: [UInt8], reliability: DCEP.Reliability) -> SendResult {
        guard let socket = socket.withLock({ $0 }) else { return .failed(EBADF) }
        var info = sctp_sendv_spa()
        info.sendv_flags = UInt32(SCTP_SEND_SNDINFO_VALID)
        info.sendv_sndinfo.snd_sid = stream
        info.sendv_sndinfo.snd_ppid = ppid.bigEndian
        if !reliability.ordered { info.sendv_sndinfo.snd_flags |= UInt16(SCTP_UNORDERED) }
        switch reliability.limit {
        case nil: break
        case .retransmits(let count):
            info.sendv_flags |= UInt32(SCTP_SEND_PRINFO_VALID)
            info.sendv_prinfo.pr_policy = UInt16(SCTP_PR_SCTP_RTX)
            info.sendv_prinfo.pr_value = count
        case .lifetimeMilliseconds(let milliseconds):
            info.sendv_flags |= UInt32(SCTP_SEND_PRINFO_VALID)
            info.sendv_prinfo.pr_policy = UInt16(SCTP_PR_SCTP_TTL)
            info.sendv_prinfo.pr_value = milliseconds
        }
        let result = data.withUnsafeBytes { bytes in
            usrsctp_sendv(
                socket.pointer, bytes.baseAddress, bytes.count, nil, 0, &info, socklen_t(MemoryLayout<sctp_sendv_spa>.size),
                UInt32(SCTP_SENDV_SPA), 0)
        }
        if result >= 0 { return .sent }
        let code = errno
        guard code == EWOULDBLOCK || code == EAGAIN else { return .failed(code) }
        wantsWritable.store(true, ordering: .relaxed)
        return .wouldBlock
    }

    /// The association's transport numbers, as SCTP sees them.
    struct Status: Sendable, Equatable {
        /// Smoothed round-trip time, in milliseconds.
        var rttMilliseconds: Int
        var congestionWindow: Int
        /// What the peer can still take.
        var peerReceiveWindow: Int
        /// Chunks sent and not yet acknowledged, plus chunks not yet sent.
        var bufferedChunks: Int
    }

    /// Reads SCTP_STATUS; nil before the socket exists or after it closed.
    func status() -> Status? {
        guard let socket = socket.withLock({ $0 }) else { return nil }
        var status = sctp_status()
        var length = socklen_t(MemoryLayout<sctp_status>.size)
        guard usrsctp_getsockopt(socket.pointer, Int32(IPPROTO_SCTP), SCTP_STATUS, &status, &length) == 0 else { return nil }
        return Status(
            rttMilliseconds: Int(status.sstat_primary.spinfo_srtt), congestionWindow: Int(status.sstat_primary.spinfo_cwnd),
            peerReceiveWindow: Int(status.sstat_rwnd), bufferedChunks: Int(status.sstat_unackdata) + Int(status.sstat_penddata))
    }

    /// Resets our outgoing `stream` (closing its channel, RFC 8831 §6.7).
    func resetStream(_ stream: UInt16) {
        guard let socket = socket.withLock({ $0 }) else { return }
        // struct sctp_reset_streams with a one-element flexible stream list.
        var request = [UInt8](repeating: 0, count: MemoryLayout<sctp_reset_streams>.size + 2)
        request.withUnsafeMutableBytes { raw in
            raw.storeBytes(of: UInt16(SCTP_STREAM_RESET_OUTGOING), toByteOffset: MemoryLayout<sctp_assoc_t>.size, as: UInt16.self)
            raw.storeBytes(of: UInt16(1), toByteOffset: MemoryLayout<sctp_assoc_t>.size + 2, as: UInt16.self)
            raw.storeBytes(of: stream, toByteOffset: MemoryLayout<sctp_reset_streams>.size, as: UInt16.self)
            _ = usrsctp_setsockopt(socket.pointer, Int32(IPPROTO_SCTP), SCTP_RESET_STREAMS, raw.baseAddress, socklen_t(raw.count))
        }
    }

    /// Closes the socket and unregisters; no callback arrives afterwards. Idempotent.
    func close() {
        if let socket = socket.withLock({ socket in
            defer { socket = nil }; return socket
        }) {
            usrsctp_set_upcall(socket.pointer, nil, nil)
            // Waits for a read under way (on another thread) to end.
            readSocket.withLock { $0 = nil }
            usrsctp_shutdown(socket.pointer, Int32(SHUT_RDWR))
            usrsctp_close(socket.pointer)
        }
        if let retained = registration.withLock({ registration in
            defer { registration = nil }; return registration
        }) {
            usrsctp_deregister_address(retained.toOpaque())
            retained.release()
        }
    }

    // MARK: Callbacks

    func transmit(_ packet: UnsafeRawBufferPointer) -> Bool { transmitPacket(packet) }

    static func from(_ address: UnsafeMutableRawPointer) -> SCTPAssociation {
        Unmanaged<SCTPAssociation>.fromOpaque(address).takeUnretainedValue()
    }

    private static func socketAddress(port: UInt16, address: UnsafeMutableRawPointer) -> sockaddr_conn {
        var value = sockaddr_conn()
        value.sconn_family = UInt16(AF_CONN)
        value.sconn_port = port.bigEndian
        value.sconn_addr = address
        return value
    }

    func deliver(_ bytes: UnsafeRawBufferPointer, info: sctp_rcvinfo, complete: Bool) {
        let stream = info.rcv_sid
        let message = partial.withLock { partial -> [UInt8]? in
            // A message over the size this side advertised is dropped as it arrives: its
            // pieces are not kept (they would be a buffer the peer sizes).
            if partial.discarding.contains(stream) {
                if complete { partial.discarding.remove(stream) }
                return nil
            }
            let head = partial.pieces[stream] ?? []
            guard maxMessageSize <= 0 || head.count + bytes.count <= maxMessageSize else {
                partial.pieces[stream] = nil
                if !complete { partial.discarding.insert(stream) }
                partial.oversized += 1
                return nil
            }
            guard complete else {
                partial.pieces[stream, default: []] += bytes
                return nil
            }
            partial.pieces[stream] = nil
            return head + bytes
        }
        if let message { onEvent(.message(stream: stream, ppid: UInt32(bigEndian: info.rcv_ppid), data: message)) }
    }

    /// Says ``Event/down``, once.
    func reportDown() {
        guard !wentDown.exchange(true, ordering: .relaxed) else { return }
        onEvent(.down)
    }

    /// Messages dropped for being over ``maxMessageSize``.
    var oversizedMessages: Int { partial.withLock { $0.oversized } }

    func notify(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count >= MemoryLayout<sctp_tlv>.size else { return }
        let type = bytes.load(as: sctp_tlv.self).sn_type
        switch Int32(type) {
        case SCTP_ASSOC_CHANGE where bytes.count >= MemoryLayout<sctp_assoc_change>.size:
            switch Int32(bytes.loadUnaligned(as: sctp_assoc_change.self).sac_state) {
            case SCTP_COMM_UP: onEvent(.up)
            case SCTP_COMM_LOST, SCTP_SHUTDOWN_COMP, SCTP_CANT_STR_ASSOC: reportDown()
            default: break
            }
        case SCTP_STREAM_RESET_EVENT where bytes.count >= MemoryLayout<sctp_stream_reset_event>.size:
            let event = bytes.loadUnaligned(as: sctp_stream_reset_event.self)
            let failed = Int32(event.strreset_flags) & (SCTP_STREAM_RESET_DENIED | SCTP_STREAM_RESET_FAILED) != 0
            guard !failed, Int32(event.strreset_flags) & SCTP_STREAM_RESET_INCOMING_SSN != 0 else { return }
            let listStart = MemoryLayout<sctp_stream_reset_event>.size
            let count = (min(Int(event.strreset_length), bytes.count) - listStart) / 2
            let streams = (0..<max(0, count)).map { bytes.loadUnaligned(fromByteOffset: listStart + 2 * $0, as: UInt16.self) }
            onEvent(.streamsReset(streams))
        case SCTP_SENDER_DRY_EVENT:
            onEvent(.writable)
        default:
            break
        }
    }
}
