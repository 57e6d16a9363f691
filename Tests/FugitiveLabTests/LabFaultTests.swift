import Foundation
import FugitiveLab
import FugitiveTestSupport
import Synchronization
import Testing

extension LabTests {
    /// What real paths do to a transfer under way: a NAT that forgets its mappings, a router
    /// whose uplink goes for seconds, a TURN server that dies. No wrong byte, the fetch ends
    /// within a bound (from the peer or the origin), and nobody crashes.
    @Suite("Faults in the network lab", .serialized, .timeLimit(.minutes(6)))
    struct LabFaultTests {
        static let size = 3_000_000
        /// The holder serves at this rate: the transfer takes about five seconds.
        static let uploadRate = 600_000
        /// Small resources the holder also has, asked for one by one after the fault.
        static let spares = (0..<20).map { index in [UInt8](repeating: UInt8(index), count: 20_000) }
        static let gatewayPort = 18_180

        /// Starts a holder on `a` and a fetcher on `b` and, once they are linked and bytes flow,
        /// applies `fault`; returns the fetcher's `fetch-done`, the link's route, and — when
        /// `relinking` — how long after the fetch the two were linked again (nil: not within `relinkWithin`).
        static func transfer(
            homes: [InternetLab.Home], _ a: String, _ b: String, relinking: Bool = false, relinkWithin: Duration = .seconds(40),
            fault: @escaping (InternetLab, LabServices) async throws -> Void
        ) async throws -> (done: [String: String], route: String, expected: String, relinked: Duration?) {
            let lab = try InternetLab(homes: homes, nameServer: InternetLab.testAddresses[0])
            defer { lab.remove() }
            try await lab.verifyNATs()
            let body = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 11) }
            let name = LabServices.turnName
            var resources: [String: TestOrigin.Resource] = ["/big.bin": .init(body: body)]
            for (index, spare) in spares.enumerated() { resources["/spare-\(index).bin"] = .init(body: spare) }
            let services = try await LabServices.start(in: lab, resources: resources) { turn in
                ["--ice-server", "stun:\(name):3478", "--turn-secret-file", try Self.secretFile(turn, lab), "--turn-url", "turn:\(name):3478"]
            }
            defer { Task { await services.stop() } }
            let url = services.origin.url("/big.bin")
            let (hostA, hostB) = (try #require(lab.host(a)), try #require(lab.host(b)))
            let spareURLs = spares.indices.map { services.origin.url("/spare-\($0).bin") }
            let holder = try LabPeer(
                in: lab, on: hostA, server: services.signalURL, swarm: "faults", fetches: [url] + spareURLs,
                extra: ["--upload-rate", "\(uploadRate)"])
            defer { holder.stop() }
            let held = try await holder.event("fetch-done", within: .seconds(30)) { $0["url"] == url }
            for spare in spareURLs { _ = try await holder.event("fetch-done", within: .seconds(30)) { $0["url"] == spare } }
            let holderID = try await holder.id()
            // The graph lists the ten most-held resources: all of them held means the holder announced.
            let announced = ContinuousClock.now + .seconds(20)
            while try await services.holders(in: "faults") < 10, ContinuousClock.now < announced { try await Task.sleep(for: .milliseconds(50)) }
            let fetcher = try LabPeer(
                in: lab, on: hostB, server: services.signalURL, swarm: "faults", fetches: [url], extra: ["--gateway", "127.0.0.1:\(gatewayPort)"])
            defer { fetcher.stop() }
            let linked = try await fetcher.event("linked", within: .seconds(15)) { $0["peer"] == holderID }
            try await Task.sleep(for: .milliseconds(1500))
            #expect(fetcher.events.allSatisfy { $0["event"] != "fetch-done" }, "the transfer ended before the fault")
            try await fault(lab, services)
            // Bound: the peer phase's deadline, then the whole resource from the origin.
            let done = try await fetcher.event("fetch-done", within: .seconds(45)) { $0["url"] == url }
            #expect(holder.isRunning && fetcher.isRunning, "a peer died: \(holder.errors.suffix(800)) \(fetcher.errors.suffix(800))")
            var relinked: Duration?
            let fetched = ContinuousClock.now
            // The link comes back (it recovered, or the server paired the two again): a fresh
            // resource only the holder has, asked through the fetcher's gateway every 2 s,
            // comes from the holder again within `relinkWithin`.
            for index in 0..<spares.count where relinking && relinked == nil && ContinuousClock.now - fetched < relinkWithin {
                let answer = try lab.run(
                    in: hostB.namespace,
                    [
                        "curl", "-sS", "-o", "/dev/null", "-D", "-",
                        "http://127.0.0.1:\(gatewayPort)/fetch?url=\(services.origin.url("/spare-\(index).bin"))",
                    ])
                // Header lines end in CRLF, one Character in Swift: split on any newline.
                let source = answer.split(whereSeparator: \.isNewline).first { $0.lowercased().hasPrefix("x-fugitive-source:") }
                if source?.contains("peer") == true { relinked = ContinuousClock.now - fetched } else { try await Task.sleep(for: .seconds(2)) }
            }
            return (done, linked["route"] ?? "?", held["digest"] ?? "", relinked)
        }

        static func secretFile(_ turn: LabTurnServer, _ lab: InternetLab) throws -> String {
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("fgn-secret-\(lab.tag)")
            try Data(turn.secret.utf8).write(to: file)
            return file.path
        }

        @Test func mappingsFlushedAndAnUplinkCutMidTransferLoseNothing() async throws {
            let (done, route, expected, relinked) = try await Self.transfer(
                homes: [.init(.portRestricted), .init(.portRestricted)], "port-restricted-1a", "port-restricted-2a", relinking: true
            ) { lab, _ in
                try lab.flushMappings(home: 1)
                try lab.flushMappings(home: 2)
                try lab.setUplink(home: 2, up: false)
                try await Task.sleep(for: .seconds(3))
                try lab.setUplink(home: 2, up: true)
            }
            print(
                "lab fault (conntrack -F, 3 s uplink cut): \(done), link was \(route); the holder served again \(relinked.map { "\($0) after the fetch" } ?? "never")"
            )
            #expect(route == "direct")
            #expect(relinked != nil, "the holder served nothing again within 40 s")
            #expect(done["digest"] == expected && done["bytes"] == "\(Self.size)", "\(done)")
        }

        /// Both homes' routers rebind mid-transfer (new public ports for every flow): the
        /// fetch ends with the right bytes, and the two link again.
        @Test func aNATThatRebindsMidTransferLosesNothingAndTheLinkComesBack() async throws {
            let (done, route, expected, relinked) = try await Self.transfer(
                homes: [.init(.portRestricted), .init(.portRestricted)], "port-restricted-1a", "port-restricted-2a", relinking: true
            ) { lab, _ in
                try lab.rebindMappings(home: 2, range: "20000-29999")
                try lab.rebindMappings(home: 1, range: "30000-39999")
            }
            print(
                "lab fault (both NATs rebound): \(done), link was \(route); the holder served again \(relinked.map { "\($0) after the fetch" } ?? "never")"
            )
            #expect(route == "direct")
            #expect(done["digest"] == expected && done["bytes"] == "\(Self.size)", "\(done)")
            #expect(relinked != nil, "the holder served nothing again within 40 s")
        }

        /// TURN dies under a relayed transfer and comes back elsewhere under its name (a
        /// fail-over: the name server now answers the standby's address). The fetch ends
        /// (from the origin), and the two symmetric-NAT peers link again through the standby:
        /// a failed link makes a peer resolve the ICE servers' names again.
        @Test func aTURNServerThatDiesMidTransferLosesNothingAndLinksComeBackThroughItsStandby() async throws {
            let standby = Mutex<LabTurnServer?>(nil)
            defer { standby.withLock { $0?.stop() } }
            let (done, route, expected, relinked) = try await Self.transfer(
                homes: [.init(.symmetric), .init(.symmetric)], "symmetric-1a", "symmetric-2a", relinking: true, relinkWithin: .seconds(75)
            ) { lab, services in
                services.turn.stop()
                try await Task.sleep(for: .seconds(3))
                let moved = try await LabTurnServer(in: lab, address: InternetLab.serviceAddresses[1], name: "turn-standby")
                standby.withLock { $0 = moved }
                services.names.move(LabServices.turnName, to: [11, 77, 0, 4])
            }
            print(
                "lab fault (coturn killed, standby under its name 3 s later): \(done), link was \(route); the holder served again \(relinked.map { "\($0) after the fetch" } ?? "never")"
            )
            #expect(route == "relayed")
            #expect(done["digest"] == expected && done["bytes"] == "\(Self.size)", "\(done)")
            #expect(relinked != nil, "no link through the standby TURN server")
        }
    }
}
