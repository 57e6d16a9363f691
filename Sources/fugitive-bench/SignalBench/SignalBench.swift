import ArgumentParser
import Foundation
import FugitiveWire
import Logging
import NIOCore
import Synchronization

/// `fugitive-bench signal`: N real WebSocket peers from this process against a
/// `fugitive server` child process — join, pair, relay signalling — and the same relay
/// load against a bare Hummingbird WebSocket relay (the floor), measured in one run.
struct SignalBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "signal",
        abstract: "Orchestrator capacity: peers held, memory per peer, relay rate and CPU, pairing latency, against a bare relay."
    )

    @Option(help: "Peers to connect.") var peers = 10_000
    @Option(help: "Signalling messages each offerer sends to its partner.") var messages = 20
    @Option(help: "Connections opened (and wants in flight) at once.") var concurrency = 128
    @Flag(help: "Print one JSON object instead of a table.") var json = false
    @Option(help: "Compare two instances sharing this PostgreSQL (postgres://…) with one instance, instead of the floors.")
    var cluster: String?

    struct Side: Codable {
        var peers = 0
        var joinSeconds = 0.0
        var bytesPerPeer = 0.0
        var relayed = 0
        var lost = 0
        var relayPerSecond = 0.0
        var cpuMicrosPerMessage = 0.0
    }

    struct Report: Codable {
        var peers: Int
        var bytesPerPeer: Double
        var joinPerSecond: Double
        var relayPerSecond: Double
        var cpuMicrosPerMessage: Double
        var pairingP50Ms: Double
        var pairingP99Ms: Double
        var pairsMade: Int
        var lost: Int
        var floorBytesPerPeer: Double
        var floorRelayPerSecond: Double
        var floorCpuMicrosPerMessage: Double
        /// Orchestrator CPU per relayed message over the bare relay's.
        var floorRatio: Double
        /// The same relay on bare NIO channel handlers (no per-connection tasks): what a
        /// leaner WebSocket path could reach.
        var nioFloorBytesPerPeer: Double
        var nioFloorRelayPerSecond: Double
        var nioFloorCpuMicrosPerMessage: Double
    }

    static let candidate =
        "candidate:842163049 1 udp 1677729535 203.0.113.7 46154 typ srflx raddr 192.168.1.20 rport 46154 generation 0 ufrag EsAw network-cost 999"

    func run() async throws {
        let files = raiseFileLimit()
        guard files > peers + 256 else { throw BenchError("open-files limit \(files) is too low for \(peers) peers") }
        var logger = Logger(label: "bench")
        logger.logLevel = .critical
        if let cluster { return try await runCluster(cluster, logger: logger) }
        log("orchestrator: \(peers) peers, \(messages) signals per pair")
        let (fugitive, unsorted) = try await measureOrchestrator(logger: logger)
        try await Task.sleep(for: .seconds(2))  // let the closed sockets drain
        log("floor (Hummingbird WebSocket): \(peers) peers")
        let floor = try await measureFloor("floor-server", frameSize: signalFrameSize(), logger: logger)
        try await Task.sleep(for: .seconds(2))
        log("floor (bare NIO handlers): \(peers) peers")
        let nioFloor = try await measureFloor("nio-floor-server", frameSize: signalFrameSize(), logger: logger)
        let latencies = unsorted.sorted()
        let report = Report(
            peers: fugitive.peers, bytesPerPeer: fugitive.bytesPerPeer,
            joinPerSecond: Double(fugitive.peers) / fugitive.joinSeconds,
            relayPerSecond: fugitive.relayPerSecond, cpuMicrosPerMessage: fugitive.cpuMicrosPerMessage,
            pairingP50Ms: percentile(latencies, 0.5), pairingP99Ms: percentile(latencies, 0.99), pairsMade: latencies.count,
            lost: fugitive.lost + floor.lost + nioFloor.lost,
            floorBytesPerPeer: floor.bytesPerPeer, floorRelayPerSecond: floor.relayPerSecond,
            floorCpuMicrosPerMessage: floor.cpuMicrosPerMessage,
            floorRatio: fugitive.cpuMicrosPerMessage / floor.cpuMicrosPerMessage,
            nioFloorBytesPerPeer: nioFloor.bytesPerPeer, nioFloorRelayPerSecond: nioFloor.relayPerSecond,
            nioFloorCpuMicrosPerMessage: nioFloor.cpuMicrosPerMessage)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            print(table(report))
        }
    }

    func signalFrameSize() -> Int {
        WireCodec(limits: .serverLink).encode(.signal(Signal(peer: "abcdefghijklmnop", kind: .candidate, candidate: Self.candidate, mid: "0")))
            .readableBytes
    }

    func table(_ r: Report) -> String {
        func f(_ x: Double, _ digits: Int = 1) -> String { String(format: "%.\(digits)f", x) }
        return """
            signalling benchmark, \(r.peers) peers (server in its own process)
                                       fugitive server     bare relay (floor)
            memory per peer (RSS/N)    \(f(r.bytesPerPeer / 1024)) KiB\(String(repeating: " ", count: max(1, 15 - f(r.bytesPerPeer / 1024).count)))\(f(r.floorBytesPerPeer / 1024)) KiB
            relayed messages / s       \(f(r.relayPerSecond, 0))\(String(repeating: " ", count: max(1, 19 - f(r.relayPerSecond, 0).count)))\(f(r.floorRelayPerSecond, 0))
            server CPU µs / message    \(f(r.cpuMicrosPerMessage, 2))\(String(repeating: " ", count: max(1, 19 - f(r.cpuMicrosPerMessage, 2).count)))\(f(r.floorCpuMicrosPerMessage, 2))
            CPU ratio to the floor     \(f(r.floorRatio, 2))×
            bare NIO relay (no tasks)  \(f(r.nioFloorBytesPerPeer / 1024)) KiB/peer, \(f(r.nioFloorRelayPerSecond, 0)) msg/s, \(f(r.nioFloorCpuMicrosPerMessage, 2)) µs/msg
            joins / s                  \(f(r.joinPerSecond, 0))
            pairing latency            p50 \(f(r.pairingP50Ms, 2)) ms, p99 \(f(r.pairingP99Ms, 2)) ms over \(r.pairsMade) wants
            messages lost              \(r.lost)
            """
    }

    func log(_ line: String) {
        if !json { FileHandle.standardError.write(Data(("· " + line + "\n").utf8)) }
    }

    /// Opens `count` connections, at most `concurrency` pending at once.
    func inWindows(_ count: Int, _ body: @escaping @Sendable (Int) async -> Void) async {
        await withTaskGroup(of: Void.self) { group in
            for i in 0..<count {
                if i >= concurrency { await group.next() }
                group.addTask { await body(i) }
            }
        }
    }

    /// Waits until `counter` reaches `target` or `timeout` passes; returns the value.
    func waitFor(_ tally: Tally, _ target: Int, timeout: Duration) async -> Int {
        let deadline = ContinuousClock.now + timeout
        while tally.value < target, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(5))
        }
        return tally.value
    }
}

/// A shared counter.
final class Tally: Sendable {
    private let count = Atomic<Int>(0)
    var value: Int { count.load(ordering: .relaxed) }
    func add() { count.add(1, ordering: .relaxed) }
}
