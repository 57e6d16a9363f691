import Foundation
import FugitiveLab
import FugitiveTestSupport
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

        /// Starts a holder on `a` and a fetcher on `b` and, once they are linked and bytes flow,
        /// applies `fault`; returns the fetcher's `fetch-done` and the link's route.
        static func transfer(
            homes: [InternetLab.Home], _ a: String, _ b: String, fault: @escaping (InternetLab, LabServices) async throws -> Void
        ) async throws -> (done: [String: String], route: String, expected: String) {
            let lab = try InternetLab(homes: homes, nameServer: InternetLab.testAddresses[0])
            defer { lab.remove() }
            try await lab.verifyNATs()
            let body = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 11) }
            let name = LabServices.turnName
            let services = try await LabServices.start(in: lab, resources: ["/big.bin": .init(body: body)]) { turn in
                ["--ice-server", "stun:\(name):3478", "--turn-secret-file", try Self.secretFile(turn, lab), "--turn-url", "turn:\(name):3478"]
            }
            defer { Task { await services.stop() } }
            let url = services.origin.url("/big.bin")
            let (hostA, hostB) = (try #require(lab.host(a)), try #require(lab.host(b)))
            let holder = try LabPeer(
                in: lab, on: hostA, server: services.signalURL, swarm: "faults", fetches: [url], extra: ["--upload-rate", "\(uploadRate)"])
            defer { holder.stop() }
            let held = try await holder.event("fetch-done", within: .seconds(30))
            let holderID = try await holder.id()
            while try await services.holders(in: "faults") < 1 { try await Task.sleep(for: .milliseconds(50)) }
            let fetcher = try LabPeer(in: lab, on: hostB, server: services.signalURL, swarm: "faults", fetches: [url])
            defer { fetcher.stop() }
            let linked = try await fetcher.event("linked", within: .seconds(15)) { $0["peer"] == holderID }
            try await Task.sleep(for: .milliseconds(1500))
            #expect(fetcher.events.allSatisfy { $0["event"] != "fetch-done" }, "the transfer ended before the fault")
            try await fault(lab, services)
            // Bound: the peer phase's deadline, then the whole resource from the origin.
            let done = try await fetcher.event("fetch-done", within: .seconds(45))
            #expect(holder.isRunning && fetcher.isRunning, "a peer died: \(holder.errors.suffix(800)) \(fetcher.errors.suffix(800))")
            return (done, linked["route"] ?? "?", held["digest"] ?? "")
        }

        static func secretFile(_ turn: LabTurnServer, _ lab: InternetLab) throws -> String {
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("fgn-secret-\(lab.tag)")
            try Data(turn.secret.utf8).write(to: file)
            return file.path
        }

        @Test func mappingsFlushedAndAnUplinkCutMidTransferLoseNothing() async throws {
            let (done, route, expected) = try await Self.transfer(
                homes: [.init(.portRestricted), .init(.portRestricted)], "port-restricted-1a", "port-restricted-2a"
            ) { lab, _ in
                try lab.flushMappings(home: 1)
                try lab.flushMappings(home: 2)
                try lab.setUplink(home: 2, up: false)
                try await Task.sleep(for: .seconds(3))
                try lab.setUplink(home: 2, up: true)
            }
            print("lab fault (conntrack -F, 3 s uplink cut): \(done), link was \(route)")
            #expect(route == "direct")
            #expect(done["digest"] == expected && done["bytes"] == "\(Self.size)", "\(done)")
        }

        @Test func aTURNServerThatDiesMidTransferLosesNothing() async throws {
            let (done, route, expected) = try await Self.transfer(
                homes: [.init(.symmetric), .init(.symmetric)], "symmetric-1a", "symmetric-2a"
            ) { _, services in
                services.turn.stop()
            }
            print("lab fault (coturn killed): \(done), link was \(route)")
            #expect(route == "relayed")
            #expect(done["digest"] == expected && done["bytes"] == "\(Self.size)", "\(done)")
        }
    }
}
