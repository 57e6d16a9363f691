import FugitiveRTC
import FugitiveWire
import NIOCore

/// The control channel: a second data channel of the same connection that carries only
/// `ping` and `pong`, so that a round trip measured on a link busy with a transfer is the
/// path's and not the time a `ping` waits behind the transfer's queued chunks (one channel
/// is one SCTP stream, delivered in order: a `ping` queued behind 4 MiB, or behind a lost
/// packet, waits for all of it). PROTOCOL.md, "The control channel".
extension PeerLink {
    /// The control channel's label; the main channel's is ``mainLabel``.
    public static let controlLabel = "fugitive-control"
    public static let mainLabel = "fugitive"

    /// Whether the other side answers on the control channel (pings go there then).
    public var isControlConfirmed: Bool { state.withLock { $0.controlConfirmed } }

    /// Takes `control` as this link's control channel (a second one is closed) and reads
    /// it until it closes: a `ping` is answered on it, a `pong` counts as on the main
    /// channel, anything else is ignored. Sends a `ping` on it, so that the other side
    /// learns this side reads it.
    public func attachControl(_ control: DataChannel) {
        let taken = state.withLock { state -> Bool in
            guard state.control == nil else { return false }
            state.control = ChannelOutbox(control)
            return true
        }
        guard taken, !channel.isClosed else { return control.close() }
        Task {
            for await message in control.messages {
                guard case .binary(let bytes) = message, let decoded = try? codec.decodePeerMessage(ByteBuffer(bytes: bytes)) else { continue }
                state.withLock { $0.controlConfirmed = true }
                switch decoded {
                case .ping(let heartbeat): send(.pong(heartbeat), control: true)
                case .pong(let heartbeat): answered(heartbeat)
                default: logger.debug("ignored a message on the control channel", metadata: ["message": "\(decoded)"])
                }
            }
        }
        Task { _ = await measureRoundTrip(onControl: true) }
    }

    /// The round-trip time of a `ping` (on the control channel once the other side
    /// answers there), or `nil` when no `pong` came within `timeout` (or the link closed).
    public func measureRoundTrip(timeout: Duration = .seconds(2)) async -> Duration? {
        await measureRoundTrip(onControl: isControlConfirmed, timeout: timeout)
    }

    func measureRoundTrip(onControl: Bool, timeout: Duration = .seconds(2)) async -> Duration? {
        let (pong, sink) = AsyncStream.makeStream(of: Void.self)
        let nonce = state.withLock { state in
            defer { state.nextNonce += 1 }
            state.pings[state.nextNonce] = sink
            return state.nextNonce
        }
        let started = ContinuousClock.now
        send(.ping(Heartbeat(nonce: nonce)), control: onControl)
        let answered = await first(of: pong, within: timeout) != nil
        state.withLock { _ = $0.pings.removeValue(forKey: nonce) }
        return answered ? ContinuousClock.now - started : nil
    }

    func answered(_ heartbeat: Heartbeat) {
        state.withLock { $0.pings.removeValue(forKey: heartbeat.nonce) }.map {
            $0.yield()
            $0.finish()
        }
    }
}
