import FugitiveWire
import Testing

@testable import FugitiveServer

/// Network coordinates: placed from the round trips the server learns, they predict the
/// round trips nobody measured, and pairing ranks those predictions.
@Suite struct NetworkCoordinateTests {
    /// A star, as the network lab builds it: the server on the core, each peer behind an
    /// access link of its own delay (a path pays both ends' delays). Four peers 2 ms from
    /// the core, four 40 ms from it; each measures the server and three random others.
    @Test func coordinatesFromSomeRoundTripsPredictTheOthers() {
        let access: [Double] = [2, 2, 2, 2, 40, 40, 40, 40]
        func rtt(_ a: Int, _ b: Int) -> Double { 2 * (access[a] + access[b]) }
        var random = SplitMix64(seed: 7)
        var peers = Array(repeating: NetworkCoordinate(), count: access.count)
        var server = NetworkCoordinate()
        var measuredPairs: Set<[Int]> = []
        for a in peers.indices {
            while measuredPairs.filter({ $0.contains(a) }).count < 3 {
                let b = Int(random.next() % UInt64(peers.count))
                if b != a { measuredPairs.insert([min(a, b), max(a, b)]) }
            }
        }
        func direction() -> (x: Double, y: Double) {
            (Double(random.next() % 2001) / 1000 - 1, Double(random.next() % 2001) / 1000 - 1)
        }
        for _ in 0..<60 {
            for a in peers.indices {
                let (me, core) = (peers[a], server)
                peers[a].update(rtt: 2 * access[a], to: core, direction: direction())
                server.update(rtt: 2 * access[a], to: me, direction: direction())
            }
            for pair in measuredPairs {
                let (a, b) = (pair[0], pair[1])
                let (one, other) = (peers[a], peers[b])
                peers[a].update(rtt: rtt(a, b), to: other, direction: direction())
                peers[b].update(rtt: rtt(a, b), to: one, direction: direction())
            }
        }
        #expect(peers.allSatisfy { $0.isSettled }, "\(peers)")
        // For every peer, the peers it never measured are ranked as the paths are: the
        // near ones (2 ms access) before the far ones.
        for a in peers.indices {
            let unmeasured = peers.indices.filter { $0 != a && !measuredPairs.contains([min(a, $0), max(a, $0)]) }
            let near = unmeasured.filter { access[$0] == 2 }.map { peers[a].distance(to: peers[$0]) }
            let far = unmeasured.filter { access[$0] == 40 }.map { peers[a].distance(to: peers[$0]) }
            if let nearest = near.max(), let farthest = far.min() {
                #expect(nearest < farthest, "peer \(a): near predicted \(near), far \(far)")
            }
            for b in unmeasured {
                let predicted = peers[a].distance(to: peers[b])
                // Within a third, or a few milliseconds on the shortest paths.
                #expect(abs(predicted - rtt(a, b)) < max(0.35 * rtt(a, b), 8), "\(a)–\(b): predicted \(predicted) ms, really \(rtt(a, b)) ms")
            }
        }
    }

    @Test func nonsenseSamplesAreIgnored() {
        var coordinate = NetworkCoordinate()
        for rtt in [0, -5, .infinity, .nan, 1e9] { coordinate.update(rtt: rtt, to: NetworkCoordinate(), direction: (1, 0)) }
        #expect(coordinate == NetworkCoordinate())
    }

    /// Predicted round trips rank as measured ones do, and any estimate beats none.
    @Test func pairingRanksPredictionsWithMeasurements() {
        typealias Candidate = PairingPolicy.Candidate
        let ranked = PairingPolicy().rank(
            asker: "me", address: nil, excluding: [],
            candidates: [
                Candidate(id: "unknown", address: nil, freeSlots: 8),
                Candidate(id: "predictedFar", address: nil, freeSlots: 1, predictedMillis: 84),
                Candidate(id: "measured", address: nil, freeSlots: 1, rttMillis: 30),
                Candidate(id: "predictedNear", address: nil, freeSlots: 1, predictedMillis: 8),
            ]
        ).map(\.id)
        #expect(ranked == ["predictedNear", "measured", "predictedFar", "unknown"])
    }

    /// In the orchestrator: the server's pings to each peer and the links' round trips
    /// place them; a newcomer near the server, once placed, is paired with the near peers
    /// it never measured, not the far ones.
    @Test func aPlacedNewcomerIsPairedWithItsNearestPeers() throws {
        var state = OrchestratorState()
        let start = ContinuousClock.now
        let access: [PeerID: Double] = ["n1": 2, "n2": 2, "f1": 40, "f2": 40, "x": 2]
        for id in access.keys.sorted(by: { $0.rawValue < $1.rawValue }) {
            _ = try state.connect(
                Hello(swarm: "s", targetPeers: 4, maxPeers: 8), address: nil, newID: id, newToken: "t-\(id)", now: start)
        }
        let links: [(PeerID, PeerID)] = [("n1", "f1"), ("n2", "f2"), ("n1", "f2"), ("n2", "f1"), ("x", "f1")]
        for _ in 0..<40 {
            for (id, delay) in access { state.measureServerRoundTrip(id, millis: 2 * delay) }
            for (a, b) in links { state.measure(a, b, millis: 2 * (access[a]! + access[b]!)) }
        }
        // x measured only f1 (84 ms); n1 and n2 it never measured.
        let candidates = state.pairingCandidates(for: "x", wanted: [], now: start)
        let ranked = state.policy.rank(asker: "x", address: nil, excluding: [], candidates: candidates).map(\.id)
        #expect(Array(ranked.prefix(2)).sorted { $0.rawValue < $1.rawValue } == ["n1", "n2"], "\(ranked) \(candidates)")
    }
}
