import Foundation
import FugitiveLab
import FugitiveTestSupport
import Testing

extension LabTests {
    /// Native peers (`fugitive peer`, the release build) in every pair of NAT kinds of the
    /// network lab, with coturn beside the orchestrator: the second peer of each pair fetches
    /// from the first, directly where a direct path exists and through TURN only where one must.
    @Suite("NAT matrix in the network lab", .serialized, .timeLimit(.minutes(8)))
    struct NATMatrixTests {
        static let homes: [InternetLab.Home] = [
            .init(.fullCone), .init(.fullCone), .init(.portRestricted, hosts: 2), .init(.portRestricted), .init(.symmetric),
            .init(.symmetric), .init(.portRestricted, blocksUDP: true),
        ]

        /// Every unordered pair of kinds (a kind with itself from two homes), the same LAN, and
        /// the home without UDP.
        static let pairs: [(String, String)] = [
            ("public-1", "public-2"), ("public-1", "full-cone-1a"), ("public-2", "port-restricted-4a"), ("public-1", "symmetric-5a"),
            ("full-cone-1a", "full-cone-2a"), ("full-cone-2a", "port-restricted-4a"), ("full-cone-1a", "symmetric-6a"),
            ("port-restricted-3a", "port-restricted-4a"), ("port-restricted-4a", "symmetric-5a"), ("symmetric-5a", "symmetric-6a"),
            ("port-restricted-3a", "port-restricted-3b"), ("public-2", "port-restricted-7a-noudp"),
        ]

        @Test func everyPairLinksDirectlyWhereItCanAndThroughTURNWhereItMust() async throws {
            let lab = try InternetLab(homes: Self.homes, publicHosts: 2, nameServer: InternetLab.testAddresses[0])
            defer { lab.remove() }
            let measured = try await lab.verifyNATs()
            print("lab NATs: \(measured.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: "; "))")
            var resources: [String: TestOrigin.Resource] = [:]
            for index in Self.pairs.indices { resources["/pair-\(index).bin"] = .init(body: Array(repeating: UInt8(index), count: 200_000)) }
            let name = LabServices.turnName
            let services = try await LabServices.start(in: lab, resources: resources) { turn in
                // A long-lived credential of coturn's REST scheme, given on the command line.
                let (username, credential) = turn.credential(for: "lab", validFor: 86_400)
                return [
                    "--ice-server", "stun:\(name):3478", "--ice-server", "turn:\(name):3478",
                    "--ice-server", "turn:\(name):3478?transport=tcp", "--ice-server", "turns:\(name):5349",
                    "--ice-username", username, "--ice-credential", credential,
                ]
            }
            defer { Task { await services.stop() } }

            var results: [LabServices.PairResult] = []
            for batch in stride(from: 0, to: Self.pairs.count, by: 4) {
                let chunk = Array(Self.pairs.indices)[batch..<min(batch + 4, Self.pairs.count)]
                try await withThrowingTaskGroup(of: LabServices.PairResult.self) { group in
                    for index in chunk {
                        let (a, b) = Self.pairs[index]
                        let (hostA, hostB) = (try #require(lab.host(a)), try #require(lab.host(b)))
                        group.addTask { try await services.exchange(hostA, hostB, swarm: "pair-\(index)", path: "/pair-\(index).bin") }
                    }
                    for try await result in group { results.append(result) }
                }
            }
            for result in results {
                print("lab pair: \(result)")
                #expect(result.source == "peer", "\(result)")
                let mustRelay = result.a.blocksUDP || result.b.blocksUDP || NATKind.needsRelay(result.a.kind, result.b.kind)
                // Two hosts of one home reach each other on their LAN.
                let sameLAN = result.a.home != nil && result.a.home == result.b.home
                #expect(result.route == (mustRelay && !sameLAN ? "relayed" : "direct"), "\(result)")
            }
            #expect(results.count == Self.pairs.count)
            if results.contains(where: { $0.source != "peer" }) {
                print("coturn's log:\n\(services.turn.log.suffix(6000))\nlook-ups of \(name): \(services.names.queries(name))")
            }
            for path in resources.keys { #expect(services.origin.gets(path) == 1, "\(path): \(services.origin.gets(path)) origin GETs") }
        }
    }
}
