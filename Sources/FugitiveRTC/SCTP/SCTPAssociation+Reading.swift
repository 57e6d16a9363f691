import CUsrsctp
import Foundation
import Synchronization

/// Reading the socket, with back-pressure from the application.
///
/// usrsctp calls ``onUpcall`` when the socket has something to read or room to write (at
/// the end of processing an incoming packet, with none of its locks held, so reading
/// there is safe). One thread reads at a time: whoever finds the socket readable while
/// another reads asks that reader to go round again. Reading stops while the application
/// holds ``receiveLimit`` bytes it has not taken, and starts again, on the thread that
/// released them, once it holds half of that or less.
extension SCTPAssociation {
    struct Reading {
        /// Bytes of messages delivered and not yet taken by the application.
        var held = 0
        /// Reading stopped at the limit and waits for the application.
        var paused = false
        /// A thread is reading.
        var active = false
        /// More may have arrived while it read.
        var again = false
    }

    /// The largest piece one read takes; longer messages arrive in pieces (``partial``).
    static let readSize = 64 << 10

    /// The application took delivery of a message of `count` bytes: it counts against
    /// ``receiveLimit`` until ``release(_:)``.
    func hold(_ count: Int) {
        reading.withLock { $0.held += count }
    }

    /// The application consumed `count` held bytes; reading resumes when it waited.
    func release(_ count: Int) {
        let resume = reading.withLock { state -> Bool in
            state.held -= count
            guard state.paused, state.held <= receiveLimit / 2 else { return false }
            state.paused = false
            return true
        }
        if resume { readAvailable() }
    }

    /// Bytes the application holds (tests).
    var heldBytes: Int { reading.withLock { $0.held } }

    static let onUpcall: @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?, Int32) -> Void = { socket, context, _ in
        guard let socket, let context else { return }
        let association = from(context)
        let events = usrsctp_get_events(socket)
        guard events >= 0 else { return }
        if events & Int32(SCTP_EVENT_READ) != 0 || events & Int32(SCTP_EVENT_ERROR) != 0 { association.readAvailable() }
        // The association ended (usrsctp sets the socket's error when it aborts, the peer
        // gone silent included) while reading waits for the application: its notification
        // is queued behind messages nobody reads yet, so the end is said now. What is
        // unread can no longer be answered.
        if events & Int32(SCTP_EVENT_ERROR) != 0, association.reading.withLock({ $0.paused }) {
            association.reportDown()
        }
        // Writable is the usual state: only a sender that found the buffer full is told,
        // and only once a good part of the buffer is free — woken for every SACK, it would
        // find room for a fraction of a message and wait again.
        if events & Int32(SCTP_EVENT_WRITE) != 0, association.wantsWritable.load(ordering: .relaxed),
            association.freeSendSpace(socket) >= SCTPAssociation.writableThreshold,
            association.wantsWritable.exchange(false, ordering: .relaxed)
        {
            association.onEvent(.writable)
        }
    }

    /// Free send space before a waiting sender is woken.
    static let writableThreshold = 256 << 10

    /// Bytes the send buffer can still take (0 when it cannot be read).
    func freeSendSpace(_ socket: OpaquePointer) -> Int {
        var usage = sctp_sockstat()
        var length = socklen_t(MemoryLayout<sctp_sockstat>.size)
        guard usrsctp_getsockopt(socket, Int32(IPPROTO_SCTP), SCTP_GET_SNDBUF_USE, &usage, &length) == 0 else { return 0 }
        return sendSpace - Int(usage.ss_total_sndbuf)
    }

    /// Reads messages and notifications until the socket is empty or the application
    /// holds its limit; returns at once when another thread is reading (it goes round again).
    func readAvailable() {
        let starts = reading.withLock { state -> Bool in
            guard !state.active else {
                state.again = true
                return false
            }
            state.active = true
            state.again = false
            return true
        }
        guard starts else { return }
        while true {
            readSocket.withLock { socket in
                guard let socket else { return }
                while !reading.withLock({ state in
                    if state.held >= receiveLimit { state.paused = true }
                    return state.paused
                }) {
                    guard readOne(socket.pointer, into: readBuffer) else { return }
                }
            }
            let done = reading.withLock { state -> Bool in
                guard state.again, !state.paused else {
                    state.active = false
                    return true
                }
                state.again = false
                return false
            }
            if done { return }
        }
    }

    /// One read: a message (or a piece of one), or a notification; false when there was nothing.
    private func readOne(_ socket: OpaquePointer, into buffer: UnsafeMutableRawPointer) -> Bool {
        var info = sctp_rcvinfo()
        var infoLength = socklen_t(MemoryLayout<sctp_rcvinfo>.size)
        var infoType: UInt32 = 0
        var flags: Int32 = 0
        let count = usrsctp_recvv(socket, buffer, Self.readSize, nil, nil, &info, &infoLength, &infoType, &flags)
        guard count > 0 else {
            // Nothing left (EWOULDBLOCK), or the association ended: its notification came first.
            return false
        }
        let bytes = UnsafeRawBufferPointer(start: buffer, count: count)
        if flags & Int32(MSG_NOTIFICATION) != 0 {
            notify(bytes)
        } else {
            deliver(bytes, info: info, complete: flags & Int32(MSG_EOR) != 0)
        }
        return true
    }
}
