import Foundation
import FugitivePeerTesting
import FugitiveServerTesting
import FugitiveTestSupport
import FugitiveWire
import Testing

@testable import FugitivePeer

/// Hostile native peers of the project's own (``UploadFault``) in a real swarm: a real
/// orchestrator, real WebRTC, a real HTTP origin.
@Suite("Hostile peers in a swarm", .serialized, .timeLimit(.minutes(3)))
struct HostileSwarmTests {
    typealias Orchestrator = LiveOrchestrator

    @Test func aDrippingPeerCostsOneFetchItsGraceAndIsNotAskedAgain() async throws {
        let first = TestSwarm.bytes(2_000_000, seed: 11)
        let second = TestSwarm.bytes(2_000_000, seed: 12)
        let origin = try await TestOrigin(["/first.bin": .init(body: first), "/second.bin": .init(body: second)])
        let server = try await Orchestrator.start()
        // Head at once, then a chunk every 1.5 s: under the victim's stall timeout for ever.
        let dripper = try TestSwarm.start(server: server.url, targetLinks: 1, fault: UploadFault(dripInterval: .milliseconds(1500)))
        // A stall timeout well above the drip: only the rate can catch it.
        let victim = try TestSwarm.start(server: server.url, targetLinks: 1) { $0.stallTimeout = .seconds(5) }
        defer {
            Task {
                await dripper.stop(); await victim.stop(); await server.stop(); await origin.stop()
            }
        }
        try await TestSwarm.waitForLinks([dripper, victim], atLeast: 1)
        for path in ["/first.bin", "/second.bin"] { _ = try await dripper.peer.fetch(origin.url(path)) }
        try await TestSwarm.wait("the dripper's holdings") { server.server.orchestrator.statistics().holdings == 2 }

        var started = ContinuousClock.now
        let fetched = try await victim.peer.fetch(origin.url("/first.bin"))
        let firstTook = ContinuousClock.now - started
        #expect(fetched.bytes == first)
        #expect(fetched.source == .origin)
        // The grace (2 s) and the origin, not the 30 s deadline.
        #expect(firstTook < .seconds(8), "the first fetch took \(firstTook)")

        started = ContinuousClock.now
        let again = try await victim.peer.fetch(origin.url("/second.bin"))
        let secondTook = ContinuousClock.now - started
        #expect(again.bytes == second)
        #expect(again.source == .origin)
        // Not asked again: no grace spent on it.
        #expect(secondTook < .seconds(2), "the second fetch took \(secondTook)")
        #expect(dripper.peer.links.slots.inUse == 0)
        print("a dripping peer: first fetch \(firstTook), second \(secondTook)")
    }
}
