import Foundation
import FugitivePeerTesting
import FugitivePostgres
import FugitiveServer
import FugitiveTestSupport
import FugitiveWire
import Logging
import Testing

@testable import FugitivePeer

/// Two `fugitive server --cluster` processes sharing one PostgreSQL, native peers over
/// real WebRTC on each, and an instance killed with SIGKILL.
@Suite(
    "Cluster end to end", .serialized, .timeLimit(.minutes(3)),
    .enabled(
        if: ProcessInfo.processInfo.environment["FUGITIVE_POSTGRES_URL"] != nil
            || ProcessInfo.processInfo.environment["FUGITIVE_REQUIRE_POSTGRES"] == "1"))
struct ClusterEndToEndTests {
    /// A `fugitive server` child process.
    final class ServerProcess: Sendable {
        let process: Process
        let port: Int
        var url: String { "ws://127.0.0.1:\(port)/v1/signal" }

        init(cluster: String, instanceExpiry: Double) async throws {
            let process = Process()
            process.executableURL = Binaries.fugitive
            process.arguments = [
                "server", "--port", "0", "--cluster", cluster, "--instance-expiry", "\(instanceExpiry)",
                // Beats 8 times per expiry: a late beat on a loaded machine must not expire a live instance.
                "--instance-heartbeat", "\(instanceExpiry / 8)", "--log-level", "error",
            ]
            process.standardInput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            // The process prints its address once it is in the cluster and listening.
            let (line, announced) = try await runAndAwaitAnnouncement(process)
            self.process = process
            guard let port = announced else {
                if process.isRunning { kill(process.processIdentifier, SIGKILL) }
                throw TestFailure("the server did not start: \(line)")
            }
            self.port = port
        }

        func kill9() async {
            kill(process.processIdentifier, SIGKILL)
            await waitOffThePool { self.process.waitUntilExit() }
        }

        func stop() async {
            guard process.isRunning else { return }
            process.terminate()
            await waitOffThePool { self.process.waitUntilExit() }
        }
    }

    static func database() async throws -> String {
        guard let url = ProcessInfo.processInfo.environment["FUGITIVE_POSTGRES_URL"] else {
            throw TestFailure("FUGITIVE_POSTGRES_URL is not set: run `make test`, or scripts/postgres start")
        }
        let server = try PostgresLocation(url: url.contains("sslmode") ? url : url + "?sslmode=disable")
        return try await server.creatingUniqueDatabase(prefix: "fugitive_e2e_", logger: TestSwarm.logger).url
    }

    /// Who-has through `peer`'s own server link: the holders its instance reports.
    static func holders(_ peer: Peer, _ digest: ResourceDigest, url: String) async -> Set<PeerID> {
        Set(await peer.links.queries.holders(of: digest, timeout: .seconds(5)))
    }

    @Test func peersOnTwoInstancesShareAndSurviveTheLossOfOne() async throws {
        let cluster = try await Self.database()
        // Long enough that a loaded machine (pass two runs headless Chromium alongside)
        // cannot make A's last heartbeat look stale before p1's resume is looked up: a
        // clean CI run saw p1 get a fresh session instead of its own with 2 s.
        let expiry = 5.0
        let serverA = try await ServerProcess(cluster: cluster, instanceExpiry: expiry)
        let serverB = try await ServerProcess(cluster: cluster, instanceExpiry: expiry)
        let body = TestSwarm.bytes(400_000, seed: 3)
        let origin = try await TestOrigin([
            "/one.bin": .init(body: body), "/two.bin": .init(body: TestSwarm.bytes(300_000, seed: 4)),
            "/three.bin": .init(body: TestSwarm.bytes(200_000, seed: 5)),
        ])
        // p1 knows both instances, A first; p2 only B; stray only A (it never moves).
        let p1 = try TestSwarm.start(server: serverA.url, targetLinks: 1) { $0.servers = [serverA.url, serverB.url] }
        let p2 = try TestSwarm.start(server: serverB.url, targetLinks: 1)
        let stray = try TestSwarm.start(server: serverA.url, targetLinks: 0) { $0.maxLinks = 0 }
        // Awaited, not deferred to a task the process may not wait for: server processes
        // left running would outlive the test run.
        func cleanUp() async {
            for peer in [p1, p2, stray] { await peer.stop() }
            await serverA.kill9()
            await serverB.stop()
            await origin.stop()
        }
        do {
            // Their only possible partners are on the other instance: they pair, signal and
            // link over WebRTC through two servers.
            try await TestSwarm.waitForLinks([p1, p2], atLeast: 1)
            #expect(p1.peer.linkedPeers.map(\.self) == [p2.peer.id!])
            let first = try await p1.peer.fetch(origin.url("/one.bin"))
            #expect(first.source == .origin)
            let digest = first.digest
            var shared: Resource?
            let deadline = ContinuousClock.now + .seconds(10)
            while shared == nil || shared?.source != .peer(p1.peer.id!), ContinuousClock.now < deadline {
                if await Self.holders(p2.peer, digest, url: origin.url("/one.bin")) == [p1.peer.id!] {
                    shared = try await p2.peer.fetch(origin.url("/one.bin"))
                } else {
                    try await Task.sleep(for: .milliseconds(100))
                }
            }
            #expect(shared?.source == .peer(p1.peer.id!), "came from \(String(describing: shared?.source))")
            #expect(shared?.bytes == body)
            #expect(origin.gets("/one.bin") == 1)
            // who-has from the stray on A sees holders on both instances.
            var both: Set<PeerID> = []
            for _ in 0..<50 where both.count < 2 {
                both = await Self.holders(stray.peer, digest, url: origin.url("/one.bin"))
                if both.count < 2 { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(both == [p1.peer.id!, p2.peer.id!])
            // The stray holds something only it has.
            let strayOwn = try await stray.peer.fetch(origin.url("/three.bin"))
            var strayVisible = false
            for _ in 0..<50 where !strayVisible {
                strayVisible = await Self.holders(p2.peer, strayOwn.digest, url: origin.url("/three.bin")) == [stray.peer.id!]
                if !strayVisible { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(strayVisible)

            // A dies without a word. p1 moves to B within its back-off cap (2 s) and keeps its
            // session; the peers link again and keep fetching from each other.
            let p1ID = p1.peer.id!
            let linkBefore = try #require(p1.peer.links.link(to: p2.peer.id!))
            await serverA.kill9()
            let killed = ContinuousClock.now
            // The only way to a resumed welcome is a new session, on B.
            try await TestSwarm.wait("p1 to rejoin through B", within: .seconds(10)) {
                p1.peer.serverLink.welcome?.resumed == true
            }
            let rejoined = ContinuousClock.now - killed
            print("cluster end to end: p1 resumed its session on B \(rejoined) after A was killed")
            #expect(rejoined < .seconds(4), "p1 rejoined after \(rejoined)")
            #expect(p1.peer.id == p1ID)
            try await TestSwarm.waitForLinks([p1, p2], atLeast: 1)
            let second = try await p2.peer.fetch(origin.url("/two.bin"))
            #expect(second.source == .origin)
            var again: Resource?
            for _ in 0..<100 where again?.source != .peer(p2.peer.id!) {
                if await Self.holders(p1.peer, second.digest, url: origin.url("/two.bin")) == [p2.peer.id!] {
                    again = try await p1.peer.fetch(origin.url("/two.bin"))
                } else {
                    try await Task.sleep(for: .milliseconds(100))
                }
            }
            #expect(again?.source == .peer(p2.peer.id!))
            // Their WebRTC link lived through the move: B took it over instead of ending it.
            #expect(p1.peer.links.link(to: p2.peer.id!) === linkBefore)
            // p1 still holds /one.bin under its resumed session: B knows it, locally now.
            #expect(await Self.holders(p2.peer, digest, url: origin.url("/one.bin")) == [p1ID])
            // The stray stayed with A: once A's rows expire, nobody is told it holds anything.
            try await Task.sleep(until: killed + .seconds(expiry + 1.5))
            #expect(await Self.holders(p2.peer, strayOwn.digest, url: origin.url("/three.bin")).isEmpty)
        } catch {
            await cleanUp()
            throw error
        }
        await cleanUp()
    }
}
