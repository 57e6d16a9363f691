import Foundation
import FugitivePeerTesting
import FugitiveTestSupport
import FugitiveWire
import Testing

/// A swarm that never sits still, on the binaries users run: a `fugitive server`, one
/// long-lived `fugitive peer` holding every resource, and short-lived peers that join,
/// fetch, serve each other, leave, or are killed (mid-fetch too). At the end: no wrong
/// byte, no failed fetch (the origin was always there), and the server's and the
/// long-lived peer's memory, descriptors and threads back near where they started.
@Suite("Churn soak", .serialized, .timeLimit(.minutes(8)))
struct ChurnSoakTests {
    /// How a short-lived peer ends.
    enum Fate: CaseIterable {
        /// SIGTERM once its fetches are done and it served a while.
        case leaves
        /// SIGKILL once its fetches are done and it served a while.
        case dies
        /// SIGKILL at a random moment, fetches under way or not.
        case diesMidway
    }

    final class Churner {
        let peer: PeerProcess
        let fate: Fate
        let urls: [String]
        let started = ContinuousClock.now
        /// Served this long after its fetches ended (or, midway, lived this long).
        let lifetime: Duration
        /// When its fetches were seen to be over.
        var fetchesEnded: ContinuousClock.Instant?

        init(peer: PeerProcess, fate: Fate, urls: [String], lifetime: Duration) {
            (self.peer, self.fate, self.urls, self.lifetime) = (peer, fate, urls, lifetime)
        }

        var finishedFetches: Int { peer.events.filter { ["fetch-done", "fetch-failed"].contains($0["event"]) }.count }
    }

    @Test func peersJoinFetchServeLeaveAndDieAndNothingIsLostOrLeftBehind() async throws {
        let soak = Duration.seconds(Double(ProcessInfo.processInfo.environment["FUGITIVE_SOAK_SECONDS"] ?? "") ?? 90)
        var random = SplitMix64(seed: 0x50A4)
        let sizes = [30_000, 70_000, 120_000, 200_000, 350_000, 500_000, 800_000, 1_200_000, 90_000, 2_000_000]
        var resources: [String: TestOrigin.Resource] = [:]
        var digests: [String: String] = [:]
        for (index, size) in sizes.enumerated() {
            let body = TestSwarm.bytes(size, seed: UInt8(100 + index))
            resources["/r\(index).bin"] = .init(body: body)
            digests["/r\(index).bin"] = ResourceDigest.sha256(of: body).hex
        }
        let origin = try await TestOrigin(resources)
        let paths = resources.keys.sorted()
        // Sessions of killed peers wait 2 s for a resume, not the default minute: the end
        // state is reached within the test.
        let config = FileManager.default.temporaryDirectory.appendingPathComponent("soak-\(UUID().uuidString).json")
        try Data(#"{"resumeGrace": 2}"#.utf8).write(to: config)
        let server = Process()
        server.executableURL = Binaries.fugitive
        server.arguments = ["server", "--port", "0", "--config", config.path, "--log-level", "error"]
        server.standardError = FileHandle.nullDevice
        let (line, announced) = try await runAndAwaitAnnouncement(server)
        let port = try #require(announced, "the server did not start: \(line)")
        let signal = "ws://127.0.0.1:\(port)/v1/signal"
        func start(fetching urls: [String]) throws -> PeerProcess {
            let process = Process()
            process.executableURL = Binaries.fugitive
            process.arguments = PeerProcess.arguments(
                server: signal, swarm: origin.url, fetches: urls, extra: ["--local-address", "127.0.0.1", "--target-links", "3"])
            return try PeerProcess(process)
        }
        let long = try start(fetching: paths.map(origin.url))
        var churners: [Churner] = []
        defer {
            for churner in churners { churner.peer.kill() }
            long.stop()
            server.terminate()
            server.waitUntilExit()
            try? FileManager.default.removeItem(at: config)
        }
        for path in paths {
            _ = try await long.event("fetch-done", within: .seconds(60), describedAs: "the long-lived peer") { $0["url"] == origin.url(path) }
        }
        try await Task.sleep(for: .seconds(2))
        let before = (server: ProcessFootprint(of: server.processIdentifier), long: ProcessFootprint(of: long.pid))

        let end = ContinuousClock.now + soak
        var live: [Churner] = []
        while ContinuousClock.now < end {
            if live.count < 6 {
                let urls = Array(Set((0..<3).map { _ in paths[Int(random.next() % UInt64(paths.count))] })).map(origin.url)
                let fate = Fate.allCases[Int(random.next() % 3)]
                let lifetime = Duration.milliseconds(Int(random.next() % (fate == .diesMidway ? 1_500 : 5_000)) + 200)
                let churner = Churner(peer: try start(fetching: urls), fate: fate, urls: urls, lifetime: lifetime)
                live.append(churner)
                churners.append(churner)
            }
            for churner in live {
                let age = ContinuousClock.now - churner.started
                switch churner.fate {
                case .diesMidway where age >= churner.lifetime: churner.peer.kill()
                case .leaves, .dies:
                    if churner.fetchesEnded == nil, churner.finishedFetches == churner.urls.count { churner.fetchesEnded = .now }
                    guard let ended = churner.fetchesEnded, ContinuousClock.now - ended >= churner.lifetime else { continue }
                    if churner.fate == .leaves { churner.peer.stop() } else { churner.peer.kill() }
                default: break
                }
            }
            live.removeAll { !$0.peer.isRunning }
            try await Task.sleep(for: .milliseconds(250))
        }
        // The soak is over: the peers still alive that were to finish their fetches get to
        // finish them (one started a moment before the end has had no time), within a bound.
        let grace = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < grace,
            live.contains(where: { $0.fate != .diesMidway && $0.peer.isRunning && $0.finishedFetches < $0.urls.count })
        {
            try await Task.sleep(for: .milliseconds(250))
        }
        for churner in live { churner.fate == .leaves ? churner.peer.stop() : churner.peer.kill() }

        // What the short-lived peers fetched.
        var fromPeers = 0
        var fromOrigin = 0
        for churner in churners {
            for event in churner.peer.events {
                switch event["event"] {
                case "fetch-done":
                    let path = String((event["url"] ?? "").dropFirst(origin.url.count))
                    #expect(event["digest"] == digests[path], "a wrong byte: \(event)")
                    if event["source"] == "peer" { fromPeers += 1 } else if event["source"] == "origin" { fromOrigin += 1 }
                case "fetch-failed":
                    Issue.record("a fetch failed although the origin was up: \(event); stderr: \(churner.peer.errors.suffix(1000))")
                default: break
                }
            }
            if churner.fate != .diesMidway {
                #expect(churner.finishedFetches == churner.urls.count, "a peer ended with fetches missing: \(churner.peer.events)")
            }
        }
        let fates = Dictionary(grouping: churners, by: \.fate).mapValues(\.count)
        print(
            "churn soak: \(churners.count) peers over \(soak) (left \(fates[.leaves] ?? 0), killed \(fates[.dies] ?? 0), killed midway \(fates[.diesMidway] ?? 0)); fetches from peers \(fromPeers), from the origin \(fromOrigin)"
        )
        #expect(churners.count >= 20)
        #expect(fromPeers > fromOrigin, "the swarm served less than the origin")
        #expect(long.isRunning)

        // Back to one peer: the sessions of the killed ones expire, links and pairs end.
        var stats: [String: Any] = [:]
        let settle = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < settle {
            let answer = try await TestHTTP.get("http://127.0.0.1:\(port)/v1/stats")
            stats = (try? JSONSerialization.jsonObject(with: Data(answer.bytes)) as? [String: Any]) ?? [:]
            if stats["peers"] as? Int == 1, stats["pendingPairs"] as? Int == 0, stats["parkedSessions"] as? Int ?? 0 == 0,
                stats["links"] as? Int == 0
            {
                break
            }
            try await Task.sleep(for: .milliseconds(500))
        }
        try await Task.sleep(for: .seconds(3))
        let after = (server: ProcessFootprint(of: server.processIdentifier), long: ProcessFootprint(of: long.pid))
        print("churn soak: server \(before.server) → \(after.server); long-lived peer \(before.long) → \(after.long)")
        #expect(stats["peers"] as? Int == 1 && stats["pendingPairs"] as? Int == 0 && stats["links"] as? Int == 0, "\(stats)")
        #expect(after.server.isNear(before.server), "the server kept what the churn gave it: \(before.server) → \(after.server)")
        #expect(after.long.isNear(before.long), "the long-lived peer kept what the churn gave it: \(before.long) → \(after.long)")
    }
}
