import Foundation
import FugitivePeer
import FugitivePeerTesting
import FugitiveServer
import FugitiveServerTesting
import FugitiveStore
import FugitiveTestSupport
import FugitiveWire
import Testing

@testable import FugitivePeer

/// Three native peers over real WebRTC, a real orchestrator and a real HTTP origin.
@Suite("Native peers end to end", .serialized, .timeLimit(.minutes(3)))
struct PeerEndToEndTests {
    typealias Orchestrator = LiveOrchestrator

    @Test func peersServeEachOtherAndTheOriginServesEachResourceOnce() async throws {
        let video = TestSwarm.bytes(3_000_000, seed: 1)
        let script = TestSwarm.text(300_000)
        let origin = try await TestOrigin([
            "/video.bin": .init(body: video), "/app.js": .init(body: script, contentType: "text/javascript"),
            "/data.json": .init(body: TestSwarm.text(40_000), contentType: "application/json"),
        ])
        let server = try await Orchestrator.start()
        let peers = try (0..<3).map { _ in try TestSwarm.start(server: server.url) }
        defer {
            Task {
                for peer in peers { await peer.stop() }; await server.stop(); await origin.stop()
            }
        }
        try await TestSwarm.waitForLinks(peers, atLeast: 2)
        // Each link has its control channel, answered on both sides.
        try await TestSwarm.wait("control channels on every link") {
            peers.allSatisfy { peer in peer.peer.linkedPeers.allSatisfy { peer.peer.links.link(to: $0)?.isControlConfirmed == true } }
        }
        let (a, b, c) = (peers[0].peer, peers[1].peer, peers[2].peer)
        let paths = ["/video.bin", "/app.js", "/data.json"]

        for path in paths { #expect(try await a.fetch(origin.url(path)).source == .origin) }
        try await TestSwarm.wait("the server to know A's holdings") { server.server.orchestrator.statistics().holdings == 3 }
        for path in paths {
            let fetched = try await b.fetch(origin.url(path))
            #expect(fetched.source == .peer(a.id!), "\(path) came from \(fetched.source)")
            #expect(fetched.digest == ResourceDigest.sha256(of: fetched.bytes))
        }
        #expect(try await b.fetch(origin.url("/video.bin")).bytes == video)
        try await TestSwarm.wait("the server to know B's holdings") { server.server.orchestrator.statistics().holdings == 6 }
        for path in paths {
            let fetched = try await c.fetch(origin.url(path))
            #expect(fetched.source == .peer(a.id!) || fetched.source == .peer(b.id!), "\(path) came from \(fetched.source)")
        }
        #expect(try await c.fetch(origin.url("/app.js")).bytes == script)
        for path in paths { #expect(origin.gets(path) == 1, "\(path) was fetched from the origin \(origin.gets(path)) times") }
        #expect(c.statistics.fetchesBySource["peer"] == 3)
        // Text went deflated over the channels.
        let served = a.statistics
        #expect(served.bytesServedOnTheWire < served.bytesServed, "\(served)")

        // On loopback every link is direct: the server counts none through TURN.
        let shape = server.server.orchestrator.statistics()
        #expect(shape.links >= 1 && shape.relayedLinks == 0, "\(shape.links) links, \(shape.relayedLinks) relayed")

        // The event streams tell the same story (they end when the peers stop).
        let aID = a.id!
        await peers[0].stop()
        await peers[1].stop()
        var bEvents: [PeerEvent] = []
        for await event in b.events { bEvents.append(event) }
        var aEvents: [PeerEvent] = []
        for await event in a.events { aEvents.append(event) }
        #expect(bEvents.contains { if case .joined = $0 { true } else { false } })
        #expect(bEvents.contains { if case .linked(aID, _, _, _) = $0 { true } else { false } })
        // On loopback the selected pair is host to host.
        #expect(bEvents.contains { if case .linked(aID, _, let route, _) = $0 { route == LinkRoute(local: .host, remote: .host) } else { false } })
        for path in paths {
            #expect(bEvents.contains { if case .fetched(origin.url(path), .peer(aID), _, _) = $0 { true } else { false } })
        }
        #expect(aEvents.contains { if case .fetched(_, .origin, video.count, _) = $0 { true } else { false } })
        #expect(aEvents.contains { if case .served(_, _, script.count, let wire, false) = $0 { wire < script.count } else { false } })
    }

    @Test func aLyingPeerIsCaughtAndTheFetchStillReturnsTheRightBytes() async throws {
        let body = TestSwarm.bytes(500_000, seed: 2)
        let origin = try await TestOrigin(["/x.bin": .init(body: body)])
        let server = try await Orchestrator.start()
        let liar = try TestSwarm.start(server: server.url, targetLinks: 1, lying: true)
        let honest = try TestSwarm.start(server: server.url, targetLinks: 1)
        defer {
            Task {
                await liar.stop(); await honest.stop(); await server.stop(); await origin.stop()
            }
        }
        try await TestSwarm.waitForLinks([liar, honest], atLeast: 1)
        _ = try await liar.peer.fetch(origin.url("/x.bin"))
        try await TestSwarm.wait("the liar's holding") { server.server.orchestrator.statistics().holdings == 1 }

        let fetched = try await honest.peer.fetch(origin.url("/x.bin"))
        #expect(fetched.bytes == body)
        #expect(fetched.source == .origin)
        #expect(honest.peer.statistics.liarsCaught == 1)
        #expect(!honest.peer.linkedPeers.contains(liar.peer.id!))
        #expect(origin.gets("/x.bin") == 2)
    }

    @Test func aPeerThatVanishesMidTransferIsReplacedByAnotherSource() async throws {
        let body = TestSwarm.bytes(6_000_000, seed: 3)
        let origin = try await TestOrigin(["/big.bin": .init(body: body)])
        let server = try await Orchestrator.start()
        // Two slow uploaders that both hold it, and the downloader.
        let uploaders = try (0..<2).map { _ in
            try TestSwarm.start(server: server.url) { $0.uploadBytesPerSecond = 1_500_000 }
        }
        let downloader = try TestSwarm.start(server: server.url)
        let all = uploaders + [downloader]
        defer {
            Task {
                for peer in all { await peer.stop() }; await server.stop(); await origin.stop()
            }
        }
        try await TestSwarm.waitForLinks(all, atLeast: 2)
        for uploader in uploaders { _ = try await uploader.peer.fetch(origin.url("/big.bin")) }
        try await TestSwarm.wait("both holdings") { server.server.orchestrator.statistics().holdings == 2 }

        let fetch = Task { try await downloader.peer.fetch(origin.url("/big.bin"), deadline: .seconds(60)) }
        // Whoever won the race goes away mid-transfer.
        var serving: RunningPeer?
        try await TestSwarm.wait("an upload to start") {
            serving = uploaders.first { $0.peer.links.slots.inUse > 0 }
            return serving != nil
        }
        try await Task.sleep(for: .milliseconds(500))
        let vanished = serving!.peer.id!
        await serving!.stop()
        let fetched = try await fetch.value
        #expect(fetched.bytes == body)
        let survivor = uploaders.first { $0 !== serving }!.peer.id!
        #expect(fetched.source == .peer(survivor), "came from \(fetched.source), \(vanished) vanished")
        // Only the first uploader went to the origin; the second had it from the first.
        #expect(origin.gets("/big.bin") == 1)
    }

    /// A real `fugitive peer` process holds the resource and is killed (SIGKILL: no
    /// goodbye on any layer) while it uploads; the download stalls or fails (ICMP from
    /// the closed port), and the fetch completes from the origin.
    @Test func aPeerProcessKilledMidTransferCostsAStallNotTheFetch() async throws {
        let body = TestSwarm.bytes(8_000_000, seed: 7)
        let origin = try await TestOrigin(["/big.bin": .init(body: body)])
        let server = try await Orchestrator.start()
        let binary = Binaries.fugitive
        try #require(FileManager.default.isExecutableFile(atPath: binary.path), "build the fugitive product first")
        let process = Process()
        process.executableURL = binary
        process.arguments = [
            "peer", "--server", server.url, "--swarm", "test-swarm", "--local-address", "127.0.0.1", "--target-links", "1",
            "--upload-rate", "1000000", "--fetch", origin.url("/big.bin"),
        ]
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let downloader = try TestSwarm.start(server: server.url, targetLinks: 1)
        defer {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            Task {
                await downloader.stop(); await server.stop(); await origin.stop()
            }
        }
        try await TestSwarm.wait("the process peer's holding", within: .seconds(30)) { server.server.orchestrator.statistics().holdings == 1 }
        try await TestSwarm.waitForLinks([downloader], atLeast: 1)

        let fetch = Task { try await downloader.peer.fetch(origin.url("/big.bin"), deadline: .seconds(60)) }
        // 8 MB at 1 MB/s: well under way, far from done.
        try await Task.sleep(for: .milliseconds(1500))
        kill(process.processIdentifier, SIGKILL)
        await waitOffThePool { process.waitUntilExit() }
        let killed = ContinuousClock.now
        let fetched = try await fetch.value
        #expect(fetched.bytes == body)
        #expect(fetched.source == .origin)
        #expect(fetched.timings.peers! > .seconds(1))
        // At most the stall timeout (2 s) plus the origin, not the deadline.
        #expect(ContinuousClock.now - killed < .seconds(15))
        #expect(origin.gets("/big.bin") == 2)
    }

    @Test func aCancelledFetchFreesTheUploadersSlot() async throws {
        let body = TestSwarm.bytes(4_000_000, seed: 4)
        let origin = try await TestOrigin(["/big.bin": .init(body: body)])
        let server = try await Orchestrator.start()
        let uploader = try TestSwarm.start(server: server.url, targetLinks: 1) { $0.uploadBytesPerSecond = 500_000 }
        let downloader = try TestSwarm.start(server: server.url, targetLinks: 1)
        defer {
            Task {
                await uploader.stop(); await downloader.stop(); await server.stop(); await origin.stop()
            }
        }
        try await TestSwarm.waitForLinks([uploader, downloader], atLeast: 1)
        _ = try await uploader.peer.fetch(origin.url("/big.bin"))
        try await TestSwarm.wait("the holding") { server.server.orchestrator.statistics().holdings == 1 }

        let fetch = Task { try await downloader.peer.fetch(origin.url("/big.bin"), deadline: .seconds(60)) }
        try await TestSwarm.wait("the upload to start") { uploader.peer.links.slots.inUse == 1 }
        fetch.cancel()
        do {
            _ = try await fetch.value
            Issue.record("a cancelled fetch returned")
        } catch let error as FetchError {
            #expect(error.code == .cancelled)
        }
        try await TestSwarm.wait("the slot to be free", within: .seconds(5)) { uploader.peer.links.slots.inUse == 0 }
        #expect(origin.gets("/big.bin") == 1)
    }

    @Test func afterAServerRestartPeersReconnectAndShareAgain() async throws {
        let body = TestSwarm.bytes(200_000, seed: 5)
        let origin = try await TestOrigin(["/one.bin": .init(body: body)])
        let first = try await Orchestrator.start()
        let a = try TestSwarm.start(server: first.url, targetLinks: 1)
        let b = try TestSwarm.start(server: first.url, targetLinks: 1)
        defer {
            Task {
                await a.stop(); await b.stop(); await origin.stop()
            }
        }
        try await TestSwarm.waitForLinks([a, b], atLeast: 1)
        _ = try await a.peer.fetch(origin.url("/one.bin"))
        let ids = (a.peer.id!, b.peer.id!)

        await first.stop()
        let second = try await Orchestrator.start(port: first.port)
        defer { Task { await second.stop() } }
        let restarted = ContinuousClock.now
        // Back-off cap 2 s: both are back well within cap + a connection's worth.
        try await TestSwarm.wait("both peers to rejoin", within: .seconds(5)) {
            second.server.orchestrator.statistics().peers == 2 && a.peer.id != ids.0 && b.peer.id != ids.1
        }
        #expect(ContinuousClock.now - restarted < .seconds(5))
        try await TestSwarm.wait("A's holdings to be re-announced") { second.server.orchestrator.statistics().holdings == 1 }
        try await TestSwarm.waitForLinks([a, b], atLeast: 1)
        let fetched = try await b.peer.fetch(origin.url("/one.bin"))
        #expect(fetched.source == .peer(a.peer.id!))
        #expect(fetched.bytes == body)
        #expect(origin.gets("/one.bin") == 1)
    }

    @Test func aPeerJustStartedAsksTheSwarmBeforeTheOrigin() async throws {
        let body = TestSwarm.bytes(300_000, seed: 9)
        let origin = try await TestOrigin(["/early.bin": .init(body: body)])
        let server = try await Orchestrator.start()
        let holder = try TestSwarm.start(server: server.url, targetLinks: 1)
        defer {
            Task {
                await holder.stop(); await server.stop(); await origin.stop()
            }
        }
        _ = try await holder.peer.fetch(origin.url("/early.bin"))
        try await TestSwarm.wait("the holding") { server.server.orchestrator.statistics().holdings == 1 }
        // Asked at once, before its server link is up (as `fugitive peer --fetch` does).
        let fresh = try TestSwarm.start(server: server.url, targetLinks: 1)
        defer { Task { await fresh.stop() } }
        try #require(fresh.peer.id == nil, "the new peer was welcomed before its first fetch: the test proves nothing")
        let fetched = try await fresh.peer.fetch(origin.url("/early.bin"))
        #expect(fetched.source == .peer(holder.peer.id!))
        #expect(fetched.bytes == body)
        #expect(origin.gets("/early.bin") == 1)
    }

    @Test func aResourceSurvivesAPeerRestart() async throws {
        let body = TestSwarm.bytes(300_000, seed: 6)
        let origin = try await TestOrigin(["/keep.bin": .init(body: body)])
        let server = try await Orchestrator.start()
        let path = TestSwarm.storePath()
        let before = try TestSwarm.start(server: server.url, storePath: path)
        #expect(try await before.peer.fetch(origin.url("/keep.bin")).source == .origin)
        await before.stop()

        let after = try TestSwarm.start(server: server.url, storePath: path)
        let other = try TestSwarm.start(server: server.url)
        defer {
            Task {
                await after.stop(); await other.stop(); await server.stop(); await origin.stop()
            }
        }
        let again = try await after.peer.fetch(origin.url("/keep.bin"))
        #expect(again.source == .disk && again.bytes == body)
        // And it is announced again, so others get it from the restarted peer.
        try await TestSwarm.waitForLinks([after, other], atLeast: 1)
        try await TestSwarm.wait("the re-announced holding") { server.server.orchestrator.statistics().holdings == 1 }
        #expect(try await other.peer.fetch(origin.url("/keep.bin")).source == .peer(after.peer.id!))
        #expect(origin.gets("/keep.bin") == 1)
    }

    @Test func aGracefulStopLeavesTheWholeCacheInTheStoreFile() async throws {
        let body = TestSwarm.bytes(300_000, seed: 14)
        let origin = try await TestOrigin(["/w.bin": .init(body: body)])
        let server = try await Orchestrator.start()
        let peer = try TestSwarm.start(server: server.url)
        defer {
            Task {
                await server.stop(); await origin.stop()
            }
        }
        let fetched = try await peer.peer.fetch(origin.url("/w.bin"))
        await peer.stop()
        let wal = (try? FileManager.default.attributesOfItem(atPath: peer.storePath + "-wal")[.size] as? Int) ?? 0
        #expect(wal == 0, "the log still holds \(wal) bytes after the stop")
        // Copy the file alone (no -wal): the cache is all there.
        let copy = peer.storePath + ".copy"
        try FileManager.default.copyItem(atPath: peer.storePath, toPath: copy)
        defer { try? FileManager.default.removeItem(atPath: copy) }
        let reopened = try ResourceStore(configuration: .init(path: copy), logger: TestSwarm.logger)
        #expect(try reopened.bytes(for: fetched.digest)?.bytes == body)
    }

}
