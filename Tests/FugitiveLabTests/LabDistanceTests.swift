import Foundation
import FugitiveLab
import FugitiveTestSupport
import Testing

extension LabTests {
    /// Pairing by distance over real paths: homes whose uplinks add 1 ms or 20 ms each way
    /// (the lab's link stage). The server places every peer from its own pings and the
    /// links' round trips (network coordinates); a newcomer near the core, whatever its
    /// first partners, ends up linked to the near peers — it looks for nearer ones while a
    /// link is far, and lets the far link go. (The far peers may link to it afterwards: for
    /// them it is among the nearest.)
    @Suite("Pairing by distance in the network lab", .serialized, .timeLimit(.minutes(4)))
    struct LabDistanceTests {
        static let near = LinkShape(delay: .milliseconds(1))
        static let far = LinkShape(delay: .milliseconds(20))

        @Test func aNewcomerEndsUpLinkedToItsNearestPeers() async throws {
            let lab = try InternetLab(
                homes: [
                    .init(.portRestricted, uplink: Self.near), .init(.portRestricted, uplink: Self.near), .init(.portRestricted, uplink: Self.far),
                    .init(.portRestricted, uplink: Self.far), .init(.portRestricted, uplink: Self.near),
                ])
            defer { lab.remove() }
            try await lab.verifyNATs()
            let services = try await LabServices.start(in: lab, resources: [:]) { turn in ["--ice-server", "stun:\(turn.address):3478"] }
            defer { Task { await services.stop() } }
            let swarm = "distance"
            let options = ["--target-links", "2", "--max-links", "6"]
            var holders: [String: LabPeer] = [:]
            for (name, host) in [
                ("n1", "port-restricted-1a"), ("n2", "port-restricted-2a"), ("f1", "port-restricted-3a"), ("f2", "port-restricted-4a"),
            ] {
                holders[name] = try LabPeer(in: lab, on: try #require(lab.host(host)), server: services.signalURL, swarm: swarm, extra: options)
            }
            defer { for peer in holders.values { peer.stop() } }
            var names: [String: String] = [:]
            for (name, peer) in holders { names[try await peer.id()] = name }
            // The holders link among themselves and report round trips for a while: the
            // server places them.
            try await Task.sleep(for: .seconds(12))

            let newcomer = try LabPeer(
                in: lab, on: try #require(lab.host("port-restricted-5a")), server: services.signalURL, swarm: swarm, extra: options)
            defer { newcomer.stop() }
            let started = ContinuousClock.now
            func links() -> Set<String> {
                var open: Set<String> = []
                for event in newcomer.events {
                    guard let peer = event["peer"], let name = names[peer] else { continue }
                    if event["event"] == "linked" { open.insert(name) }
                    if event["event"] == "unlinked" { open.remove(name) }
                }
                return open
            }
            var settled: Duration?
            while ContinuousClock.now - started < .seconds(90) {
                if links().isSuperset(of: ["n1", "n2"]) {
                    // Held for a few seconds: not a moment between two changes.
                    try await Task.sleep(for: .seconds(3))
                    if links().isSuperset(of: ["n1", "n2"]) {
                        settled = ContinuousClock.now - started
                        break
                    }
                }
                try await Task.sleep(for: .milliseconds(250))
            }
            let history = newcomer.events.filter { ["linked", "unlinked"].contains($0["event"]) }.map {
                "\($0["event"]!) \(names[$0["peer"] ?? ""] ?? "?") rtt \($0["rttMs"] ?? "-")"
            }
            print("lab distance: the newcomer's links \(links().sorted()), settled after \(settled.map { "\($0)" } ?? "never"); \(history)")
            #expect(settled != nil, "the newcomer's links are \(links().sorted()), not the near peers: \(history)")
            // It was linked to a far peer on the way (its first pairs, made before the server
            // could place it, are drawn): unless it was lucky, it let one go.
            print("lab distance: the newcomer let \(newcomer.events.filter { $0["event"] == "penalised" }.count) far links go")
            #expect(holders.values.allSatisfy { $0.isRunning } && newcomer.isRunning)
        }
    }
}
