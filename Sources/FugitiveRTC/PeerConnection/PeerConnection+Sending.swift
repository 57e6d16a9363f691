/// Datagrams waiting to leave as one: on a local path, the DTLS records usrsctp produces
/// during one call into it (a 16 KiB message is two SCTP packets, a window opened by a
/// SACK many more) are coalesced into one UDP datagram, up to the negotiated datagram
/// size. DTLS allows several records per datagram (RFC 6347 §4.1.1), and the receiver
/// reads them all; each datagram saved is a send and a receive system call, and a
/// wake-up of the receiving thread, which on loopback cost more than the bytes.
struct Outbox {
    /// The largest coalesced datagram; 0 sends every record on its own (browsers, and
    /// paths not known to be local).
    var limit = 0
    /// How many calls into usrsctp are under way on any thread; while there are any,
    /// records are collected, and the last one to finish sends them.
    var depth = 0
    var bytes: [UInt8] = []
}

extension PeerConnection {
    /// The configured MTU, or more when both sides take more and the path is local.
    func datagramSize(remoteTakes remote: Int?, pathLimit: Int?) -> Int {
        guard let remote, let pathLimit, configuration.localPathMTU > configuration.mtu else { return configuration.mtu }
        return max(configuration.mtu, min(configuration.localPathMTU, remote, pathLimit))
    }

    /// A packet from usrsctp: encrypt it, then send the datagram at once (without copying
    /// it), or add it to the outbox while a batch is open.
    func transmit(_ packet: UnsafeRawBufferPointer) -> Bool {
        core.withLock { core in
            guard let (dtls, ice) = core.lifecycle.transmitPath, dtls.state == .connected else { return false }
            do {
                try dtls.send(packet) { datagram in
                    if core.outbox.limit > 0, core.outbox.depth > 0 {
                        if core.outbox.bytes.count + datagram.count > core.outbox.limit { Self.flush(&core, ice: ice) }
                        core.outbox.bytes.append(contentsOf: datagram)
                    } else {
                        Self.send(datagram, &core, ice: ice)
                    }
                }
            } catch {
                return false
            }
            return true
        }
    }

    /// Runs `body` (a call into usrsctp) with sends batched; the outbox is sent when it
    /// returns, so nothing waits for longer than the call.
    func batchingSends<T>(_ body: () -> T) -> T {
        core.withLock { $0.outbox.depth += 1 }
        defer {
            core.withLock { core in
                core.outbox.depth -= 1
                if let ice = core.lifecycle.ice { Self.flush(&core, ice: ice) }
            }
        }
        return body()
    }

    private static func flush(_ core: inout Core, ice: IceAgent) {
        guard !core.outbox.bytes.isEmpty else { return }
        core.outbox.bytes.withUnsafeBytes { send($0, &core, ice: ice) }
        core.outbox.bytes.removeAll(keepingCapacity: true)
    }

    private static func send(_ datagram: UnsafeRawBufferPointer, _ core: inout Core, ice: IceAgent) {
        ice.send(datagram)
        core.counters.datagramsSent += 1
        core.counters.bytesSent += datagram.count
        core.counters.largestDatagramSent = max(core.counters.largestDatagramSent, datagram.count)
    }
}
