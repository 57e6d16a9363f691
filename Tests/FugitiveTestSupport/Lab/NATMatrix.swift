import Foundation
import FugitiveLab

/// The NAT matrix: `fugitive peer`s on hosts of every pair of NAT kinds of a network lab,
/// with coturn beside the orchestrator; in each pair the second fetches what the first got
/// from the origin. The lab test (`NATMatrixTests`) asserts on it, `fugitive-bench net`
/// prints it.
public enum NATMatrix {
    /// One home of each kind the pairs need (two of some, so that a kind meets itself),
    /// a home with two hosts on one LAN, and a home whose router lets no UDP out.
    /// `uplink` shapes every home's uplink (the public hosts have none).
    public static func homes(uplink: LinkShape? = nil) -> [InternetLab.Home] {
        [
            .init(.fullCone, uplink: uplink), .init(.fullCone, uplink: uplink), .init(.portRestricted, hosts: 2, uplink: uplink),
            .init(.portRestricted, uplink: uplink), .init(.symmetric, uplink: uplink), .init(.symmetric, uplink: uplink),
            .init(.portRestricted, blocksUDP: true, uplink: uplink),
        ]
    }

    /// Every unordered pair of kinds (a kind with itself from two homes), the same LAN, and
    /// the home without UDP.
    public static let pairs: [(String, String)] = [
        ("public-1", "public-2"), ("public-1", "full-cone-1a"), ("public-2", "port-restricted-4a"), ("public-1", "symmetric-5a"),
        ("full-cone-1a", "full-cone-2a"), ("full-cone-2a", "port-restricted-4a"), ("full-cone-1a", "symmetric-6a"),
        ("port-restricted-3a", "port-restricted-4a"), ("port-restricted-4a", "symmetric-5a"), ("symmetric-5a", "symmetric-6a"),
        ("port-restricted-3a", "port-restricted-3b"), ("public-2", "port-restricted-7a-noudp"),
    ]

    /// Whether the pair can only link through TURN: a home without UDP, or kinds that
    /// cannot punch through to each other — unless both are on one LAN.
    public static func mustRelay(_ result: LabServices.PairResult) -> Bool {
        let sameLAN = result.a.home != nil && result.a.home == result.b.home
        return !sameLAN && (result.a.blocksUDP || result.b.blocksUDP || NATKind.needsRelay(result.a.kind, result.b.kind))
    }

    /// What a run saw.
    public struct Run: Sendable {
        /// The NAT behaviour the lab measured on each home before the run (RFC 4787).
        public var nats: [String: String]
        /// One per pair, in ``pairs``' order.
        public var results: [LabServices.PairResult]
        /// Origin GETs per pair's resource path (each should be 1: the holder's).
        public var originGets: [String: Int]
        /// The end of coturn's log, and how often the TURN server's name was looked up.
        public var turnLog: String
        public var turnLookups: Int
    }

    /// Builds the lab, verifies its NATs, starts the services (TURN by name over UDP, TCP
    /// and TLS, one long-lived REST-scheme credential on the command line) and runs every
    /// pair, `parallel` at a time; removes everything before it returns or throws.
    public static func run(uplink: LinkShape? = nil, parallel: Int = 4) async throws -> Run {
        let lab = try InternetLab(homes: homes(uplink: uplink), publicHosts: 2, nameServer: InternetLab.testAddresses[0])
        defer { lab.remove() }
        let measured = try await lab.verifyNATs()
        var resources: [String: TestOrigin.Resource] = [:]
        for index in pairs.indices { resources[path(index)] = .init(body: Array(repeating: UInt8(index), count: 200_000)) }
        let name = LabServices.turnName
        let services = try await LabServices.start(in: lab, resources: resources) { turn in
            let (username, credential) = turn.credential(for: "lab", validFor: 86_400)
            return [
                "--ice-server", "stun:\(name):3478", "--ice-server", "turn:\(name):3478",
                "--ice-server", "turn:\(name):3478?transport=tcp", "--ice-server", "turns:\(name):5349",
                "--ice-username", username, "--ice-credential", credential,
            ]
        }
        var results: [Int: LabServices.PairResult] = [:]
        do {
            for batch in stride(from: 0, to: pairs.count, by: parallel) {
                try await withThrowingTaskGroup(of: (Int, LabServices.PairResult).self) { group in
                    for index in batch..<min(batch + parallel, pairs.count) {
                        let (a, b) = pairs[index]
                        guard let hostA = lab.host(a), let hostB = lab.host(b) else { throw TestFailure("no host \(a) or \(b) in the lab") }
                        group.addTask { (index, try await services.exchange(hostA, hostB, swarm: "pair-\(index)", path: path(index))) }
                    }
                    for try await (index, result) in group { results[index] = result }
                }
            }
        } catch {
            await services.stop()
            throw error
        }
        let run = Run(
            nats: measured.mapValues { "\($0)" }, results: pairs.indices.compactMap { results[$0] },
            originGets: Dictionary(uniqueKeysWithValues: resources.keys.map { ($0, services.origin.gets($0)) }),
            turnLog: String(services.turn.log.suffix(6000)), turnLookups: services.names.queries(name))
        await services.stop()
        return run
    }

    static func path(_ index: Int) -> String { "/pair-\(index).bin" }
}
