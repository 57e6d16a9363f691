import Foundation
import FugitivePeerTesting
import FugitiveServer
import FugitiveServerTesting
import FugitiveTestSupport
import FugitiveWire
import NIOCore
import Testing

@testable import FugitivePeer

/// The browser peer (`/fugitive.js`) in headless Chromium, with a real orchestrator, a
/// real origin, and native peers in the same swarm.
@Suite("Browser peer", .serialized, .timeLimit(.minutes(3)))
struct BrowserPeerTests {
    typealias Orchestrator = LiveOrchestrator

    struct Setup {
        let origin: TestOrigin
        let server: Orchestrator
        let browsers: BrowserDriver
        var swarm: String { "http://127.0.0.1:\(origin.port)" }

        static func start(_ resources: [String: TestOrigin.Resource]) async throws -> Setup {
            let origin = try await TestOrigin(resources)
            let server = try await Orchestrator.start()
            return Setup(origin: origin, server: server, browsers: try BrowserDriver(server: "http://127.0.0.1:\(server.port)"))
        }

        func open(_ name: String, _ options: [String: Any] = [:]) async throws -> String {
            var options = options
            options["swarm"] = swarm
            // Each page has a browser context of its own, so an IndexedDB store of its own.
            let answer = try await browsers.send(["op": "open", "name": name, "options": options])
            guard answer["ok"] as? Bool == true, let id = answer["id"] as? String else { throw TestFailure("open \(name): \(answer)") }
            return id
        }

        func waitLinks(_ name: String, _ count: Int) async throws {
            let answer = try await browsers.send(["op": "waitLinks", "name": name, "count": count])
            guard (answer["links"] as? Int ?? 0) >= count else {
                let stats = try await self.stats(name)
                throw TestFailure("\(name) has \(answer["links"] ?? "no") links; its console: \(stats["console"] ?? "")")
            }
        }

        func fetch(_ name: String, _ path: String, abortAfterMs: Int? = nil, digest: String? = nil) async throws -> [String: Any] {
            try await browsers.send([
                "op": "fetch", "name": name, "url": origin.url(path), "abortAfterMs": abortAfterMs ?? NSNull(), "digest": digest ?? NSNull(),
            ])
        }

        func stats(_ name: String) async throws -> [String: Any] { try await browsers.send(["op": "stats", "name": name]) }

        func stop() async {
            await browsers.quit()
            await server.stop()
            await origin.stop()
        }
    }

    static func hex(_ bytes: [UInt8]) -> String { ResourceDigest.sha256(of: bytes).hex }

    @Test func twoPagesShareAnImage() async throws {
        let image = TestSwarm.bytes(900_000, seed: 10)
        let setup = try await Setup.start(["/photo.jpg": .init(body: image, contentType: "image/jpeg")])
        defer { Task { await setup.stop() } }
        let a = try await setup.open("A", ["targetLinks": 1])
        let first = try await setup.fetch("A", "/photo.jpg")
        #expect(first["source"] as? String == "origin", "\(first)")
        _ = try await setup.open("B", ["targetLinks": 1])
        try await setup.waitLinks("B", 1)
        let second = try await setup.fetch("B", "/photo.jpg")
        #expect(second["source"] as? String == "peer \(a)", "\(second)")
        #expect(second["sha256"] as? String == Self.hex(image))
        #expect(second["length"] as? Int == image.count)
        #expect(setup.origin.gets("/photo.jpg") == 1)
        let errors = try await setup.stats("B")["pageErrors"] as? [String]
        #expect(errors?.isEmpty == true, "\(errors ?? [])")
    }

    @Test func browsersAndNativePeersServeEachOther() async throws {
        let native = TestSwarm.bytes(600_000, seed: 11)
        let browser = TestSwarm.text(300_000)
        let setup = try await Setup.start([
            "/native.bin": .init(body: native), "/browser.txt": .init(body: browser, contentType: "text/plain"),
        ])
        let peer = try TestSwarm.start(server: setup.server.url, targetLinks: 1) { $0.swarm = setup.swarm }
        defer {
            Task {
                await peer.stop(); await setup.stop()
            }
        }
        _ = try await peer.peer.fetch(setup.origin.url("/native.bin"))
        let page = try await setup.open("A", ["targetLinks": 1, "debug": true])
        try await setup.waitLinks("A", 1)
        // The browser gets what only the native peer holds…
        let fromNative = try await setup.fetch("A", "/native.bin")
        #expect(fromNative["source"] as? String == "peer \(peer.peer.id!)", "\(fromNative)")
        #expect(fromNative["sha256"] as? String == Self.hex(native))
        // …and the native peer what only the browser holds.
        let fetched = try await setup.fetch("A", "/browser.txt")
        #expect(fetched["source"] as? String == "origin")
        try await TestSwarm.wait("the browser's holdings") { setup.server.server.orchestrator.statistics().holdings == 3 }
        let fromBrowser = try await peer.peer.fetch(setup.origin.url("/browser.txt"))
        #expect(fromBrowser.source == .peer(PeerID(page)))
        #expect(fromBrowser.bytes == browser)
        // Text, so the page deflated it (the native peer can inflate): far fewer bytes crossed.
        let wire = try #require(peer.peer.links.link(to: PeerID(page))).statistics.bytesDownloaded
        #expect(wire > 0 && wire < browser.count / 10, "\(wire) bytes on the wire for \(browser.count)")
        #expect(setup.origin.gets("/native.bin") == 1 && setup.origin.gets("/browser.txt") == 1)
    }

    @Test func aLyingPageIsCaughtAndACancelledFetchFreesTheUploader() async throws {
        let small = TestSwarm.bytes(200_000, seed: 12)
        let big = TestSwarm.bytes(20_000_000, seed: 13)
        let setup = try await Setup.start(["/small.bin": .init(body: small), "/big.bin": .init(body: big)])
        defer { Task { await setup.stop() } }
        _ = try await setup.open("liar", ["targetLinks": 1, "corruptsUploadsForTesting": true])
        #expect(try await setup.fetch("liar", "/small.bin")["source"] as? String == "origin")
        _ = try await setup.open("B", ["targetLinks": 1])
        try await setup.waitLinks("B", 1)
        let checked = try await setup.fetch("B", "/small.bin")
        #expect(checked["source"] as? String == "origin", "\(checked)")
        #expect(checked["sha256"] as? String == Self.hex(small))
        #expect((try await setup.stats("B")["stats"] as? [String: Any])?["liarsCaught"] as? Int == 1)

        // A cancelled download: the honest uploader's slot comes free again.
        _ = try await setup.open("C", ["targetLinks": 2])
        #expect(try await setup.fetch("C", "/big.bin")["source"] as? String == "origin")
        // Linked to every page, C among them (with one link, D may get the liar or B, ask
        // them, hear `miss` and take the whole file from the origin within the 150 ms).
        _ = try await setup.open("D", ["targetLinks": 3])
        try await setup.waitLinks("D", 3)
        let aborted = try await setup.fetch("D", "/big.bin", abortAfterMs: 150)
        #expect(aborted["ok"] as? Bool == false, "\(aborted)")
        #expect((aborted["error"] as? String)?.contains("Abort") == true, "\(aborted)")
        var uploading = 1
        for _ in 0..<100 where uploading > 0 {
            uploading = try await setup.stats("C")["uploading"] as? Int ?? -1
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(uploading == 0)
    }

    @Test func theGalleryPageLoadsItsImagesThroughTheSwarm() async throws {
        let svgs = (0..<4).map { index in
            Array("<svg xmlns='http://www.w3.org/2000/svg' width='40' height='40'><circle cx='20' cy='20' r='\(10 + index)' fill='#2a7'/></svg>".utf8)
        }
        var resources: [String: TestOrigin.Resource] = [:]
        for (index, svg) in svgs.enumerated() { resources["/\(index).svg"] = .init(body: svg, contentType: "image/svg+xml") }
        let setup = try await Setup.start(resources)
        defer { Task { await setup.stop() } }
        let paths = (0..<4).map { "/\($0).svg" }
        let first = try await setup.browsers.send(["op": "gallery", "origin": setup.swarm, "paths": paths])
        #expect(first["sources"] as? [String] == Array(repeating: "origin", count: 4), "\(first)")
        #expect(first["loaded"] as? Int == 4)
        let second = try await setup.browsers.send(["op": "gallery", "origin": setup.swarm, "paths": paths])
        let sources = second["sources"] as? [String] ?? []
        #expect(sources.count == 4 && sources.allSatisfy { $0.hasPrefix("peer ") }, "\(second)")
        #expect(second["loaded"] as? Int == 4)
        #expect(paths.allSatisfy { setup.origin.gets($0) == 1 })
    }

    @Test func theModulesCodecAgreesWithSwifts() async throws {
        let setup = try await Setup.start([:])
        defer { Task { await setup.stop() } }
        let codec = WireCodec(limits: .serverLink)
        let digest = ResourceDigest.sha256(of: [1, 2, 3])
        let server: [ServerMessage] = [
            .hello(Hello(swarm: "https://cdn.example", targetPeers: 4, maxPeers: 8, resumeToken: "tok", agent: "fugitive/0.1")),
            .welcome(
                Welcome(
                    peer: "p1", resumeToken: "r", resumed: true, iceServers: [ICEServer(urls: ["stun:s:3478"], username: "u", credential: "c")],
                    heartbeatMillis: 15_000)),
            .want(Want(count: 3, digests: [digest], peers: ["h"])), .pair(Pair(peer: "p2", offerer: true)),
            .signal(Signal(peer: "p2", kind: .candidate, candidate: "candidate:1 1 UDP 1 127.0.0.1 5000 typ host", mid: "0")),
            .link(LinkReport(peer: "p2", state: .connected, rttMillis: 1.25)),
            .have(Have(holdings: [Holding(digest: digest, url: "https://o/x.png", size: 1 << 40)])),
            .holders(Holders(requestID: 9, digest: digest, peers: ["a", "b"])), .ping(Heartbeat(nonce: .max)),
            .error(ErrorMessage(code: .notPaired, message: "p9 is not your partner — ünïcödé", requestID: 4)),
            .report(DeliveryReport(fromOrigin: 1 << 33, fromPeers: 0, served: 65_536)),
        ]
        let peer: [PeerMessage] = [
            .request(Request(id: 1, digest: digest, url: "https://o/x", acceptsDeflate: true)),
            .head(
                ResponseHead(id: 1, transferLength: 100_000, contentLength: 100_000, encoding: .identity, chunkSize: 16_361, contentType: "image/png")
            ),
            .chunk(Chunk(id: 1, index: 3, data: ByteBuffer(bytes: TestSwarm.bytes(16_361, seed: 1)))), .busy(Busy(id: 2, retryAfterMillis: 500)),
        ]
        let frames = server.map { Array(buffer: codec.encode($0)) } + peer.map { Array(buffer: WireCodec(limits: .peerLink).encode($0)) }
        let hexes = frames.map { $0.map { String(format: "%02x", $0) }.joined() }
        let answer = try await setup.browsers.send(["op": "codec", "frames": hexes])
        #expect(answer["reencoded"] as? [String] == hexes)
    }
}
