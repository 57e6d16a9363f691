import Foundation
import FugitiveWire
import Logging
import NIOCore
import Synchronization

extension SignalBench {
    /// Join, pair and relay against a `fugitive server` child process.
    func measureOrchestrator(logger: Logger) async throws -> (Side, [Double]) {
        let server = try ServerProcess(arguments: [
            "server", "--port", "0", "--connections-per-ip", "\(peers + 16)", "--peers-per-swarm", "\(peers + 16)",
            "--messages-per-second", "100000", "--message-burst", "100000", "--log-level", "error",
        ])
        defer { server.stop() }
        let url = "ws://127.0.0.1:\(server.port)/v1/signal"
        let codec = WireCodec(limits: .serverLink)
        try await Task.sleep(for: .milliseconds(500))
        let baseline = server.residentBytes()

        let welcomes = (0..<peers).map { _ in Signal1<PeerID>() }
        let offers = (0..<peers).map { _ in Signal1<PeerID>() }
        let received = Tally()
        let connections = (0..<peers).map { i in
            orchestratorPeer(url: url, codec: codec, logger: logger, welcome: welcomes[i], offer: offers[i], received: received)
        }
        var side = Side()
        let joinStart = ContinuousClock.now
        let joined = Tally()
        await inWindows(peers) { i in
            connections[i].send(codec.encode(.hello(Hello(swarm: "bench", targetPeers: 2, maxPeers: 8))))
            if await welcomes[i].wait() != nil { joined.add() }
        }
        side.joinSeconds = (ContinuousClock.now - joinStart).seconds
        side.peers = joined.value
        log("joined \(side.peers) in \(String(format: "%.1f", side.joinSeconds)) s")
        try await Task.sleep(for: .seconds(1))
        side.bytesPerPeer = Double(server.residentBytes() - baseline) / Double(max(1, side.peers))

        // Pairing: every other peer asks for one partner; latency is want → pair.
        let askers = Array(stride(from: 0, to: peers, by: 2))
        let latencies = Mutex<[Double]>([])
        let partners = Mutex<[Int: PeerID]>([:])
        await inWindows(askers.count) { k in
            let i = askers[k]
            let start = ContinuousClock.now
            connections[i].send(codec.encode(.want(Want(count: 1))))
            // A peer that others filled up gets no partner: the server stays silent.
            let timeout = Task {
                try await Task.sleep(for: .seconds(5))
                offers[i].resolve(nil)
            }
            defer { timeout.cancel() }
            guard let partner = await offers[i].wait() else { return }
            let millis = (ContinuousClock.now - start).seconds * 1000
            latencies.withLock { $0.append(millis) }
            partners.withLock { $0[i] = partner }
        }
        let pairs = partners.withLock { $0 }
        log("paired \(pairs.count) of \(askers.count) askers")

        // Relay: each offerer sends `messages` candidates to its partner.
        let frames = pairs.mapValues { partner in
            codec.encode(.signal(Signal(peer: partner, kind: .candidate, candidate: Self.candidate, mid: "0")))
        }
        let total = frames.count * messages
        await relay(total: total, received: received, server: server, connections: connections, into: &side) {
            for (i, frame) in frames {
                for _ in 0..<messages { connections[i].send(frame) }
            }
        }
        return (side, latencies.withLock { $0 })
    }

    /// A load peer of `fugitive server`: counts the signals relayed to it, resolves
    /// `welcome` with its id and `offer` with the partner of a pair it makes the offer in
    /// (both with `nil` if the connection ends first).
    func orchestratorPeer(
        url: String, codec: WireCodec, logger: Logger, welcome: Signal1<PeerID>, offer: Signal1<PeerID>, received: Tally
    ) -> BenchPeer {
        BenchPeer(
            url: url, logger: logger,
            onFrame: { frame in
                // The envelope is [1, type, body]: the type is the third byte.
                switch frame.getInteger(at: frame.readerIndex + 2, as: UInt8.self) {
                case 6: received.add()
                case 2:
                    if case .welcome(let w) = try? codec.decodeServerMessage(frame) { welcome.resolve(w.peer) }
                case 4:
                    if case .pair(let p) = try? codec.decodeServerMessage(frame), p.offerer { offer.resolve(p.peer) }
                default: break
                }
            },
            onEnd: {
                welcome.resolve(nil); offer.resolve(nil)
            })
    }

    /// The same join and relay load against a bare relay (`floor-server` or `nio-floor-server`).
    func measureFloor(_ command: String, frameSize: Int, logger: Logger) async throws -> Side {
        let server = try ServerProcess(.bench, arguments: [command, "--port", "0"])
        defer { server.stop() }
        let url = "ws://127.0.0.1:\(server.port)/relay"
        try await Task.sleep(for: .milliseconds(500))
        let baseline = server.residentBytes()
        let acks = (0..<peers).map { _ in Signal1<Bool>() }
        let received = Tally()
        let connections = (0..<peers).map { i in
            BenchPeer(
                url: url, logger: logger,
                onFrame: { frame in
                    if frame.readableBytes == 4 { acks[i].resolve(true) } else { received.add() }
                }, onEnd: { acks[i].resolve(nil) })
        }
        var side = Side()
        let joinStart = ContinuousClock.now
        let joined = Tally()
        await inWindows(peers) { i in
            var registration = ByteBuffer()
            registration.writeInteger(UInt32(i))
            connections[i].send(registration)
            if await acks[i].wait() != nil { joined.add() }
        }
        side.joinSeconds = (ContinuousClock.now - joinStart).seconds
        side.peers = joined.value
        try await Task.sleep(for: .seconds(1))
        side.bytesPerPeer = Double(server.residentBytes() - baseline) / Double(max(1, side.peers))

        let senders = Array(stride(from: 0, to: peers - 1, by: 2))
        let total = senders.count * messages
        let frames = senders.map { i in
            var frame = ByteBuffer()
            frame.writeInteger(UInt32(i + 1))
            frame.writeRepeatingByte(0x61, count: max(0, frameSize - 4))
            return frame
        }
        await relay(total: total, received: received, server: server, connections: connections, into: &side) {
            for (k, i) in senders.enumerated() {
                for _ in 0..<messages { connections[i].send(frames[k]) }
            }
        }
        return side
    }

    /// Sends the relay load, waits for all of it, records rate and server CPU per
    /// message, then closes every connection.
    func relay(
        total: Int, received: Tally, server: ServerProcess, connections: [BenchPeer], into side: inout Side, send: () -> Void
    ) async {
        let cpuStart = server.cpuMicros()
        let relayStart = ContinuousClock.now
        send()
        side.relayed = await waitFor(received, total, timeout: .seconds(180))
        let seconds = (ContinuousClock.now - relayStart).seconds
        side.cpuMicrosPerMessage = (server.cpuMicros() - cpuStart) / Double(max(1, side.relayed))
        side.relayPerSecond = Double(side.relayed) / seconds
        side.lost = total - side.relayed
        log("relayed \(side.relayed) of \(total) in \(String(format: "%.2f", seconds)) s")
        for connection in connections { connection.close() }
        for connection in connections { await connection.task.value }
    }
}
