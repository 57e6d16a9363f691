import Foundation
import FugitiveLab
import FugitiveTestSupport
import Testing

extension LabTests {
    /// TURN as deployments run it: coturn with a secret shared with the orchestrator, which
    /// mints each peer its own short-lived credential (`--turn-secret-file`, `--turn-url`), so
    /// that no static password goes to every client.
    @Suite("TURN deployed beside the orchestrator", .serialized, .timeLimit(.minutes(6)))
    struct TURNDeploymentTests {
        static let homes: [InternetLab.Home] = [.init(.symmetric), .init(.symmetric), .init(.portRestricted, blocksUDP: true)]
        /// The pairs that cannot link without TURN: symmetric on both sides, and a home whose
        /// router lets no UDP out (TURN over TCP or TLS).
        static let pairs = [("symmetric-1a", "symmetric-2a"), ("port-restricted-3a-noudp", "symmetric-2a")]

        /// Runs the pairs against a server that mints credentials from `secret` (coturn's own is
        /// `turn.secret`); returns each pair's result.
        static func exchange(secret: (LabTurnServer) -> String) async throws -> [LabServices.PairResult] {
            let lab = try InternetLab(homes: Self.homes, nameServer: InternetLab.testAddresses[0])
            defer { lab.remove() }
            try await lab.verifyNATs()
            var resources: [String: TestOrigin.Resource] = [:]
            for index in Self.pairs.indices { resources["/minted-\(index).bin"] = .init(body: Array(repeating: UInt8(index + 7), count: 150_000)) }
            let secretFile = FileManager.default.temporaryDirectory.appendingPathComponent("fgn-secret-\(lab.tag)")
            defer { try? FileManager.default.removeItem(at: secretFile) }
            let name = LabServices.turnName
            let services = try await LabServices.start(in: lab, resources: resources) { turn in
                try Data("\(secret(turn))\n".utf8).write(to: secretFile)
                return [
                    "--ice-server", "stun:\(name):3478", "--turn-secret-file", secretFile.path, "--turn-url", "turn:\(name):3478",
                    "--turn-url", "turn:\(name):3478?transport=tcp", "--turn-url", "turns:\(name):5349",
                ]
            }
            defer { Task { await services.stop() } }
            var results: [LabServices.PairResult] = []
            for (index, (a, b)) in Self.pairs.enumerated() {
                let (hostA, hostB) = (try #require(lab.host(a)), try #require(lab.host(b)))
                results.append(try await services.exchange(hostA, hostB, swarm: "minted-\(index)", path: "/minted-\(index).bin"))
            }
            return results
        }

        @Test func peersRelayWithCredentialsTheOrchestratorMintedForThem() async throws {
            let results = try await Self.exchange { $0.secret }
            for result in results {
                print("lab pair (minted credentials): \(result)")
                #expect(result.source == "peer" && result.route == "relayed", "\(result)")
            }
        }

        /// The control: credentials minted from another secret are refused by coturn, so the
        /// same pairs cannot link and fetch from the origin (the bytes are still right).
        @Test func credentialsFromAnotherSecretAreRefusedByTheTURNServer() async throws {
            let results = try await Self.exchange { "not-\($0.secret)" }
            for result in results {
                print("lab pair (wrong secret): \(result)")
                #expect(result.source == "origin" && !result.linked, "\(result)")
            }
        }
    }
}
