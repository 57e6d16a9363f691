/// Channels, and the tasks that wait: for SCTP up, for a DCEP ack, for send space.
extension PeerConnectionStateMachine {
    /// What a task asking to wait for SCTP up gets.
    enum ConnectionWait: Sendable, Equatable {
        /// Up already: go on.
        case connected
        /// Ended: fail with `closed`.
        case closed
        /// The task was cancelled before it waited.
        case cancelled
        /// Registered: resumed when SCTP comes up or the connection ends.
        case waiting
    }

    /// What a send goes through: the association, the writable generation it saw (to
    /// wait for the next), and the peer's message size limit (0: none).
    struct SendPath: Sendable {
        let association: Association
        let writableGeneration: Int
        let maxMessageSize: Int
    }

    // MARK: Waiting for SCTP up

    /// A task waits for SCTP up with `id` (from ``makeWaiterID()``). Up comes first,
    /// then the end, then `cancelled`; only then is `waiter` kept.
    mutating func awaitConnection(id: Int, waiter: Waiter, cancelled: Bool) -> ConnectionWait {
        switch state {
        case .sctpUp:
            return .connected
        case .closing, .closed:
            return .closed
        case .new, .iceConnecting, .iceConnected, .dtlsHandshaking, .dtlsConnected:
            if cancelled { return .cancelled }
            withUpWaiters { $0[id] = waiter }
            return .waiting
        }
    }

    /// Takes back the waiter of `id` (its task was cancelled); `nil` if it was resumed.
    mutating func upWaiterCancelled(_ id: Int) -> Waiter? {
        withUpWaiters { $0.removeValue(forKey: id) } ?? nil
    }

    // MARK: Channels

    /// Opens a channel of ours: its stream id follows our DTLS role, and `make` makes
    /// it. Throws `closed` without an association.
    mutating func openChannel(make: (UInt16) -> Channel) throws(RTCError) -> (channel: Channel, association: Association) {
        let opened = withSecured { secured in
            let id = secured.channels.nextStreamID(client: secured.dtls.role == .client)
            let channel = make(id)
            secured.channels.open[id] = channel
            return (channel, secured.association)
        }
        guard let opened else { throw RTCError.connectionClosed }
        return opened
    }

    /// The peer opened a channel on `stream` (a DCEP open): `make` makes ours, to ack
    /// and announce. `nil` for a stream already open, or without an association.
    mutating func peerOpenedChannel(on stream: UInt16, make: (UInt16) -> Channel) -> (channel: Channel, association: Association)? {
        withSecured { secured -> (channel: Channel, association: Association)? in
            guard secured.channels.open[stream] == nil else { return nil }
            let channel = make(stream)
            secured.channels.open[stream] = channel
            return (channel, secured.association)
        } ?? nil
    }

    /// The channel on `stream`, for its messages.
    func channel(on stream: UInt16) -> Channel? {
        secured?.channels.open[stream]
    }

    /// The peer reset `stream`: its channel goes (to be closed, and its stream reset on
    /// the association in turn).
    mutating func streamReset(_ stream: UInt16) -> (channel: Channel?, association: Association?) {
        let channel = withSecured { $0.channels.open.removeValue(forKey: stream) } ?? nil
        return (channel, association)
    }

    /// A channel's open was sent: `waiter` waits for the ack. False without an
    /// association (the connection ended), and the waiter is not kept.
    mutating func awaitAck(on stream: UInt16, waiter: Waiter) -> Bool {
        withSecured { $0.channels.ackWaiters[stream] = waiter } != nil
    }

    /// The ack on `stream` came, or its waiter's task was cancelled: takes the waiter.
    mutating func ackArrived(on stream: UInt16) -> Waiter? {
        withSecured { $0.channels.ackWaiters.removeValue(forKey: stream) } ?? nil
    }

    // MARK: Send space

    /// What a send goes through; throws `closed` without an association.
    func sendPath() throws(RTCError) -> SendPath {
        guard let secured else { throw RTCError.connectionClosed }
        return SendPath(
            association: secured.association, writableGeneration: secured.channels.writableGeneration,
            maxMessageSize: secured.signalling.remote?.maxMessageSize ?? 0)
    }

    /// A sender that found the buffer full after `generation` waits for send space:
    /// returns its id, or `nil` (go on at once) when space came since or the
    /// connection ended.
    mutating func awaitWritable(after generation: Int, writer: Writer) -> Int? {
        guard let secured, secured.channels.writableGeneration == generation else { return nil }
        let id = makeWaiterID()
        withSecured { $0.channels.writableWaiters[id] = writer }
        return id
    }

    /// A writer's wait timed out: takes it back, `nil` if it was resumed.
    mutating func writableWaiterTimedOut(_ id: Int) -> Writer? {
        withSecured { $0.channels.writableWaiters.removeValue(forKey: id) } ?? nil
    }

    /// Send space came free: the writers to resume.
    mutating func associationWritable() -> [Writer] {
        withSecured { secured in
            secured.channels.writableGeneration += 1
            defer { secured.channels.writableWaiters = [:] }
            return Array(secured.channels.writableWaiters.values)
        } ?? []
    }
}

extension PeerConnectionStateMachine.SendPath: Equatable where Parts: EquatablePeerConnectionParts {}
