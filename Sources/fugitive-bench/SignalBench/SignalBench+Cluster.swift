import Foundation
import FugitivePostgres
import FugitiveWire
import Logging
import NIOCore
import Synchronization

/// `fugitive-bench signal --cluster URL`: pairing and relay between two instances that
/// share a PostgreSQL, next to the same load on one instance, measured in one run.
///
/// Half the peers ("open", up to 8 links each) join one instance; the other half
/// ("askers", one link each) join the other, one after the other, each asking for a
/// partner as it joins: the askers before it are full, so the only candidates are open
/// peers — on the other instance in the cluster run, on the same one in the reference.
extension SignalBench {
    struct ClusterSide: Codable {
        var instances = 1
        var pairs = 0
        var pairingP50Ms = 0.0
        var pairingP99Ms = 0.0
        var relayed = 0
        var lost = 0
        var relayPerSecond = 0.0
    }

    struct ClusterReport: Codable {
        var peers: Int
        var messagesPerPair: Int
        var single: ClusterSide
        var cluster: ClusterSide
    }

    func runCluster(_ url: String, logger: Logger) async throws {
        let clusterURL = try await PostgresLocation(url: url).creatingUniqueDatabase(prefix: "fugitive_bench_", logger: logger).url

        log("one instance: \(peers) peers")
        let limits = [
            "--port", "0", "--connections-per-ip", "\(peers + 16)", "--peers-per-swarm", "\(peers + 16)",
            "--messages-per-second", "100000", "--message-burst", "100000", "--log-level", "error",
        ]
        let single = try ServerProcess(arguments: ["server"] + limits)
        let singleSide = try await measurePairing(open: single, askers: single, logger: logger)
        single.stop()
        try await Task.sleep(for: .seconds(2))

        log("two instances on PostgreSQL: \(peers / 2) open peers on one, \(peers / 2) askers on the other")
        let a = try ServerProcess(arguments: ["server", "--cluster", clusterURL] + limits)
        let b = try ServerProcess(arguments: ["server", "--cluster", clusterURL] + limits)
        var clusterSide = try await measurePairing(open: b, askers: a, logger: logger)
        clusterSide.instances = 2
        a.stop()
        b.stop()

        let report = ClusterReport(peers: peers, messagesPerPair: messages, single: singleSide, cluster: clusterSide)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            func f(_ x: Double, _ digits: Int = 1) -> String { String(format: "%.\(digits)f", x) }
            func row(_ name: String, _ x: String, _ y: String) -> String {
                name.padding(toLength: 27, withPad: " ", startingAt: 0) + x.padding(toLength: 20, withPad: " ", startingAt: 0) + y
            }
            print(
                """
                cluster signalling benchmark, \(peers) peers, \(messages) signals per pair
                \(row("", "one instance", "two instances (PostgreSQL)"))
                \(row("pairs made", "\(singleSide.pairs)", "\(clusterSide.pairs)"))
                \(row("pairing latency p50", f(singleSide.pairingP50Ms, 2) + " ms", f(clusterSide.pairingP50Ms, 2) + " ms"))
                \(row("pairing latency p99", f(singleSide.pairingP99Ms, 2) + " ms", f(clusterSide.pairingP99Ms, 2) + " ms"))
                \(row("relayed messages / s", f(singleSide.relayPerSecond, 0), f(clusterSide.relayPerSecond, 0)))
                \(row("messages lost", "\(singleSide.lost)", "\(clusterSide.lost)"))
                """)
        }
    }

    /// Joins the open peers to `open` and the askers to `askers`, pairs each asker, then
    /// relays `messages` signals from each asker to its partner.
    func measurePairing(open: ServerProcess, askers: ServerProcess, logger: Logger) async throws -> ClusterSide {
        let codec = WireCodec(limits: .serverLink)
        let half = peers / 2
        let welcomes = (0..<peers).map { _ in Signal1<PeerID>() }
        let offers = (0..<peers).map { _ in Signal1<PeerID>() }
        let received = Tally()
        // Each connection opens when its turn comes: a connection silent beyond the hello
        // timeout would be closed.
        func connect(_ i: Int) -> BenchPeer {
            orchestratorPeer(
                url: "ws://127.0.0.1:\((i < half ? open : askers).port)/v1/signal", codec: codec, logger: logger,
                welcome: welcomes[i], offer: offers[i], received: received)
        }
        var connections = (0..<half).map(connect)
        await inWindows(half) { [connections] i in
            connections[i].send(codec.encode(.hello(Hello(swarm: "bench", targetPeers: 2, maxPeers: 8))))
            _ = await welcomes[i].wait()
        }
        var openIndex: [PeerID: Int] = [:]
        for i in 0..<half { if let id = await welcomes[i].wait() { openIndex[id] = i } }
        // Every peer beats like a real one while the askers come, one after the other (the
        // first would otherwise be silent past the heartbeat timeout before the relay).
        let beating = Mutex(connections)
        let heartbeats = Task {
            while !Task.isCancelled {
                try await Task.sleep(for: .seconds(10))
                for connection in beating.withLock({ $0 }) { connection.send(codec.encode(ServerMessage.ping(Heartbeat(nonce: 1)))) }
            }
        }
        defer { heartbeats.cancel() }
        // The open peers' rows reach the store within a flush interval.
        try await Task.sleep(for: .seconds(1))
        var latencies: [Double] = []
        var partners: [Int: PeerID] = [:]
        for i in half..<peers {
            connections.append(connect(i))
            beating.withLock { $0.append(connections[i]) }
            connections[i].send(codec.encode(.hello(Hello(swarm: "bench", targetPeers: 1, maxPeers: 1))))
            guard let askerID = await welcomes[i].wait() else { continue }
            let start = ContinuousClock.now
            connections[i].send(codec.encode(.want(Want(count: 1))))
            let timeout = Task {
                try await Task.sleep(for: .seconds(5))
                offers[i].resolve(nil)
            }
            let partner = await offers[i].wait()
            timeout.cancel()
            guard let partner else { continue }
            latencies.append((ContinuousClock.now - start).seconds * 1000)
            partners[i] = partner
            // As a real peer would once its data channel is up: the pair is a link now and
            // does not time out (its free slot would let later askers pair with it).
            connections[i].send(codec.encode(.link(LinkReport(peer: partner, state: .connected))))
            // The server makes a link of a pair only when both sides say so.
            if let open = openIndex[partner] { connections[open].send(codec.encode(.link(LinkReport(peer: askerID, state: .connected)))) }
        }
        latencies.sort()
        var side = ClusterSide(pairs: partners.count, pairingP50Ms: percentile(latencies, 0.5), pairingP99Ms: percentile(latencies, 0.99))
        log("paired \(partners.count) of \(peers - half) askers: p50 \(String(format: "%.2f", side.pairingP50Ms)) ms")
        let frames = partners.mapValues { codec.encode(.signal(Signal(peer: $0, kind: .candidate, candidate: Self.candidate, mid: "0"))) }
        let total = frames.count * messages
        let start = ContinuousClock.now
        for (i, frame) in frames {
            for _ in 0..<messages { connections[i].send(frame) }
        }
        side.relayed = await waitFor(received, total, timeout: .seconds(120))
        side.relayPerSecond = Double(side.relayed) / (ContinuousClock.now - start).seconds
        side.lost = total - side.relayed
        log("relayed \(side.relayed) of \(total)")
        for connection in connections { connection.close() }
        for connection in connections { await connection.task.value }
        return side
    }
}
