import Foundation
import FugitiveLab
import FugitiveTestSupport
import Testing

extension LabTests {
    /// Two peers behind symmetric NATs with STUN but no TURN: no path exists between them.
    /// The pair is given up within a bound, reported (`pairsFailed` in `/v1/stats`), not made
    /// again and again, and the fetch comes from the origin, verified.
    @Suite("A pair that cannot connect, in the network lab", .serialized, .timeLimit(.minutes(3)))
    struct LabUnreachablePairTests {
        static let swarm = "no-path"

        /// The swarm's `pairsMade` and `pairsFailed` at `/v1/stats`.
        static func counts(_ services: LabServices) async throws -> (made: Int, failed: Int) {
            let answer = try await TestHTTP.get(
                "http://\(InternetLab.serviceAddresses[0]):\(LabServices.serverPort)/v1/stats",
                headers: [("Authorization", "Bearer \(LabServices.operatorToken)")])
            let stats = try #require(try JSONSerialization.jsonObject(with: Data(answer.bytes)) as? [String: Any], "\(answer.status)")
            let swarms = try #require(stats["swarms"] as? [[String: Any]])
            guard let counts = swarms.first(where: { $0["swarm"] as? String == swarm })?["counts"] as? [String: Any] else { return (0, 0) }
            return ((counts["pairsMade"] as? Int) ?? 0, (counts["pairsFailed"] as? Int) ?? 0)
        }

        @Test func aPairWithoutAPathIsGivenUpReportedAndNotMadeAgain() async throws {
            let lab = try InternetLab(homes: [.init(.symmetric), .init(.symmetric)], nameServer: InternetLab.testAddresses[0])
            defer { lab.remove() }
            try await lab.verifyNATs()
            let body = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 9) }
            let services = try await LabServices.start(in: lab, resources: ["/x.bin": .init(body: body)]) { _ in
                ["--ice-server", "stun:\(InternetLab.serviceAddresses[0]):3478"]
            }
            defer { Task { await services.stop() } }
            let url = services.origin.url("/x.bin")
            let (a, b) = (try #require(lab.host("symmetric-1a")), try #require(lab.host("symmetric-2a")))
            let holder = try LabPeer(in: lab, on: a, server: services.signalURL, swarm: Self.swarm, fetches: [url])
            defer { holder.stop() }
            let held = try await holder.event("fetch-done", within: .seconds(30))
            while try await services.holders(in: Self.swarm) < 1 { try await Task.sleep(for: .milliseconds(50)) }
            let started = ContinuousClock.now
            let fetcher = try LabPeer(in: lab, on: b, server: services.signalURL, swarm: Self.swarm, fetches: [url])
            defer { fetcher.stop() }
            let fetched = try await fetcher.event("fetch-done", within: .seconds(45))
            let took = ContinuousClock.now - started
            #expect(fetched["source"] == "origin" && fetched["digest"] == held["digest"], "\(fetched)")
            // Given up: the server heard of the failure (the peer's connect timeout, 15 s,
            // or the pair's, 20 s) and counted it.
            let deadline = ContinuousClock.now + .seconds(25)
            var counts = try await Self.counts(services)
            while counts.failed < 1, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(200))
                counts = try await Self.counts(services)
            }
            let givenUp = ContinuousClock.now - started
            #expect(counts.failed >= 1, "the failed pair was never reported: \(counts)")
            #expect(givenUp < .seconds(30), "given up after \(givenUp)")
            // Both keep asking for partners (below target) but are not paired again.
            try await Task.sleep(for: .seconds(6))
            let later = try await Self.counts(services)
            print("lab unreachable pair: fetch from origin after \(took), pair given up after \(givenUp); \(counts) then \(later)")
            #expect(later.made == counts.made && later.failed == counts.failed, "paired again: \(counts) → \(later)")
            #expect(!fetcher.events.contains { $0["event"] == "linked" })
            #expect(holder.isRunning && fetcher.isRunning)
        }
    }
}
