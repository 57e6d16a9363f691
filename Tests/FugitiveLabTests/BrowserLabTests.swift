import Foundation
import FugitiveLab
import FugitiveTestSupport
import FugitiveWire
import Testing

extension LabTests {
    /// Headless Chromium in homes of the network lab, each browser in a namespace of its
    /// own behind its home's NAT, with a native peer in a third: browser ↔ native and
    /// browser ↔ browser across NATs that only TURN gets through.
    @Suite("Browsers across NATs in the network lab", .serialized, .timeLimit(.minutes(6)))
    struct BrowserLabTests {
        @Test func browsersAndANativePeerServeEachOtherThroughTheirNATs() async throws {
            let lab = try InternetLab(homes: [.init(.symmetric), .init(.symmetric), .init(.portRestricted)], publicHosts: 0)
            defer { lab.remove() }
            let measured = try await lab.verifyNATs()
            print("lab NATs: \(measured.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: "; "))")
            let fromNative = Self.bytes(400_000, seed: 31)
            let fromBrowser = Self.bytes(300_000, seed: 32)
            let services = try await LabServices.start(
                in: lab, resources: ["/native.bin": .init(body: fromNative), "/browser.bin": .init(body: fromBrowser)]
            ) { turn in
                let (username, credential) = turn.credential(for: "browsers", validFor: 86_400)
                return [
                    "--ice-server", "stun:\(turn.address):3478", "--ice-server", "turn:\(turn.address):3478",
                    "--ice-username", username, "--ice-credential", credential,
                ]
            }
            defer { Task { await services.stop() } }
            let (nativeHome, firstHome, secondHome) = (
                try #require(lab.host("symmetric-1a")), try #require(lab.host("symmetric-2a")), try #require(lab.host("port-restricted-3a"))
            )
            let swarm = "browsers-across-nats"
            let server = "http://\(InternetLab.serviceAddresses[0]):\(LabServices.serverPort)"

            // A native peer behind a symmetric NAT holds one resource.
            let native = try LabPeer(in: lab, on: nativeHome, server: services.signalURL, swarm: swarm, fetches: [services.origin.url("/native.bin")])
            defer { native.stop() }
            #expect(try await native.event("fetch-done", within: .seconds(30))["source"] == "origin")
            let nativeID = try await native.id()

            // A browser behind another symmetric NAT: only TURN joins the two.
            let first = try BrowserDriver(server: server, namespace: firstHome.namespace)
            defer { Task { await first.quit() } }
            let firstID = try await Self.open(first, swarm: swarm, links: 1)
            let got = try await first.send(["op": "fetch", "name": "page", "url": services.origin.url("/native.bin"), "abortAfterMs": NSNull()])
            #expect(got["source"] as? String == "peer \(nativeID)", "\(got)")
            #expect(got["sha256"] as? String == Self.hex(fromNative))
            #expect(try await services.route(in: swarm) == "relayed")
            let origin = try await first.send(["op": "fetch", "name": "page", "url": services.origin.url("/browser.bin"), "abortAfterMs": NSNull()])
            #expect(origin["source"] as? String == "origin", "\(origin)")

            // A second browser, behind a port-restricted NAT, gets from the first browser
            // what only it holds (port-restricted ↔ symmetric: through TURN again).
            let second = try BrowserDriver(server: server, namespace: secondHome.namespace)
            defer { Task { await second.quit() } }
            let secondID = try await Self.open(second, swarm: swarm, links: 2)
            let shared = try await second.send(["op": "fetch", "name": "page", "url": services.origin.url("/browser.bin"), "abortAfterMs": NSNull()])
            #expect(shared["source"] as? String == "peer \(firstID)", "\(shared)")
            #expect(shared["sha256"] as? String == Self.hex(fromBrowser))
            // And the native peer gets it from a browser too.
            let nativeFetch = try LabPeer(
                in: lab, on: nativeHome, server: services.signalURL, swarm: swarm, fetches: [services.origin.url("/browser.bin")])
            defer { nativeFetch.stop() }
            let fetched = try await nativeFetch.event("fetch-done", within: .seconds(30))
            #expect(fetched["source"] == "peer" && fetched["digest"] == Self.hex(fromBrowser), "\(fetched)")
            for path in ["/native.bin", "/browser.bin"] { #expect(services.origin.gets(path) == 1, "\(path): \(services.origin.gets(path))") }
            // The browsers report their routes as native peers do: the operator sees the
            // browser ↔ browser link through TURN, and every byte served went through it.
            let links = try await services.links(in: swarm)
            #expect(links.relayed.contains([firstID, secondID].sorted()), "\(links)")
            let everything = fromNative.count + 2 * fromBrowser.count
            var delivery: [String: Int] = [:]
            let reported = ContinuousClock.now + .seconds(10)
            while delivery["servedRelayed", default: 0] < everything, ContinuousClock.now < reported {
                try await Task.sleep(for: .milliseconds(200))
                delivery = try await services.delivery(in: swarm)
            }
            print("browser lab: delivery \(delivery), links \(links)")
            #expect(delivery["servedRelayed"] == everything && delivery["served"] == everything, "\(delivery)")
        }

        /// Opens the driver's page in `swarm` and waits for `links` links; returns its peer id.
        static func open(_ driver: BrowserDriver, swarm: String, links: Int) async throws -> String {
            let opened = try await driver.send(["op": "open", "name": "page", "options": ["swarm": swarm, "targetLinks": links]])
            guard opened["ok"] as? Bool == true, let id = opened["id"] as? String else { throw TestFailure("the page did not join: \(opened)") }
            let linked = try await driver.send(["op": "waitLinks", "name": "page", "count": links, "timeout": 30_000])
            guard (linked["links"] as? Int ?? 0) >= links else {
                let stats = try await driver.send(["op": "stats", "name": "page"])
                throw TestFailure("the page has \(linked["links"] ?? "no") links; its console: \(stats["console"] ?? "")")
            }
            return id
        }

        static func hex(_ bytes: [UInt8]) -> String { ResourceDigest.sha256(of: bytes).hex }

        static func bytes(_ count: Int, seed: UInt64) -> [UInt8] {
            var random = SplitMix64(seed: seed)
            return (0..<count).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        }
    }
}
