import ArgumentParser
import Foundation
import FugitiveLab
import FugitiveTestSupport

/// `fugitive-bench net`: the NAT matrix of the network lab (``NATMatrix``) — `fugitive
/// peer`s (the `fugitive` beside this binary) in every pair of NAT kinds, TURN beside the
/// orchestrator — and how each pair linked: connected or not, direct or relayed, and the
/// setup time from the server's `pair` to the open data channel, against the goal of
/// 3 round trips + 50 ms (the round trip measured over that channel); then one data
/// channel across lab paths of given round trips and loss (`NetBench+Paths`). Needs root,
/// coturn (and the test venv's Chromium for the paths' reference).
struct NetBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "net",
        abstract: "The network lab's NAT matrix: who links, directly or through TURN, and how fast (needs root, coturn)."
    )

    @Option(help: "One-way delay every home's uplink adds, in milliseconds (0: plain veth).")
    var delayMillis: Int = 0

    @Option(help: "Pairs run at once.")
    var parallel: Int = 4

    @Flag(help: "Print one JSON object instead of a table.")
    var json = false

    @Flag(help: "Leave out the NAT matrix.")
    var noMatrix = false

    @Option(help: "Paths for the throughput runs, rtt:loss (ms:percent) separated by commas; empty: none.")
    var paths = "0:0,20:0,50:0,100:0,50:1"

    @Option(help: "Megabytes FugitiveRTC moves on each path.")
    var pathMegabytes = 200

    @Option(help: "Megabytes Chromium moves on each path (0: no Chromium; needs the test venv).")
    var chromiumMegabytes = 50

    struct Pair: Codable {
        var a: String
        var b: String
        var connected: Bool
        var relayed: Bool
        /// Whether the pair can only link through TURN.
        var mustRelay: Bool
        var fromPeer: Bool
        var setupMs: Double?
        var rttMs: Double?
        /// setupMs ≤ 3 × rttMs + 50.
        var setupWithinGoal: Bool
    }

    struct Report: Codable {
        var delayMillis: Int
        var natMatrix: [Pair]
        var connectedRatio: Double
        /// Direct links over all pairs.
        var directRatio: Double
        /// Direct links over the pairs that have a direct path.
        var directWhereAPathExistsRatio: Double
        var setupWithinGoalRatio: Double
        var setupMedianMs: Double?
        /// One data channel's throughput across lab paths, FugitiveRTC against Chromium.
        var paths: [PathResult]
    }

    func run() async throws {
        // The lab's peers are the user's `fugitive`, the one built beside this binary.
        if ProcessInfo.processInfo.environment["FUGITIVE_BINARY"] == nil {
            let own = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
            setenv("FUGITIVE_BINARY", own.deletingLastPathComponent().appendingPathComponent("fugitive").path, 1)
        }
        guard FileManager.default.isExecutableFile(atPath: Binaries.fugitive.path) else {
            throw ValidationError("\(Binaries.fugitive.path) is missing: build the fugitive product too")
        }
        let shape = delayMillis > 0 ? LinkShape(delay: .milliseconds(delayMillis)) : nil
        let results = noMatrix ? [] : try await NATMatrix.run(uplink: shape, parallel: parallel).results
        if !json, !paths.isEmpty { print("One data channel across a lab path, 1200-byte datagrams:") }
        let pathResults = try await runPaths()
        let pairs = results.map { result in
            Pair(
                a: result.a.name, b: result.b.name, connected: result.linked, relayed: result.relayed, mustRelay: NATMatrix.mustRelay(result),
                fromPeer: result.source == "peer", setupMs: result.setupMilliseconds, rttMs: result.roundTripMilliseconds,
                setupWithinGoal: result.setupMilliseconds.map { $0 <= 3 * (result.roundTripMilliseconds ?? .infinity) + 50 } ?? false)
        }
        let count = Double(max(pairs.count, 1))
        let withPath = pairs.filter { !$0.mustRelay }
        let setups = pairs.compactMap(\.setupMs).sorted()
        let report = Report(
            delayMillis: delayMillis, natMatrix: pairs, connectedRatio: Double(pairs.filter(\.connected).count) / count,
            directRatio: Double(pairs.filter { $0.connected && !$0.relayed }.count) / count,
            directWhereAPathExistsRatio: Double(withPath.filter { $0.connected && !$0.relayed }.count) / Double(max(withPath.count, 1)),
            setupWithinGoalRatio: Double(pairs.filter(\.setupWithinGoal).count) / count,
            setupMedianMs: setups.isEmpty ? nil : setups[setups.count / 2], paths: pathResults)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
            return
        }
        guard !noMatrix else { return }
        print("NAT matrix, home uplinks +\(delayMillis) ms one way:")
        for pair in pairs {
            let route = pair.connected ? (pair.relayed ? "relayed" : "direct") : "not linked"
            let setup = pair.setupMs.map { String(format: "%6.0f ms", $0) } ?? "     -   "
            let rtt = pair.rttMs.map { String(format: "%6.1f ms", $0) } ?? "     -   "
            print(
                "  \(pair.a.padding(toLength: 24, withPad: " ", startingAt: 0)) \(pair.b.padding(toLength: 24, withPad: " ", startingAt: 0)) \(route.padding(toLength: 10, withPad: " ", startingAt: 0)) setup \(setup)  rtt \(rtt)\(pair.setupWithinGoal ? "" : "  (over 3 RTT + 50 ms)")"
            )
        }
        print(
            String(
                format: "connected %.2f, direct %.2f (%.2f where a direct path exists), setup within 3 RTT + 50 ms %.2f, median setup %.0f ms",
                report.connectedRatio, report.directRatio, report.directWhereAPathExistsRatio, report.setupWithinGoalRatio,
                report.setupMedianMs ?? -1))
    }
}
