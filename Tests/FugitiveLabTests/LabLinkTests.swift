import Foundation
import FugitiveLab
import Testing

extension LabTests {
    /// The lab's shaped links (``LinkStage``, the lab's own `netem`): what a home's uplink
    /// says it adds is what a packet across it meets. Measured with `ping` against a home
    /// on a plain veth in the same lab.
    @Suite("Shaped links in the network lab", .serialized, .timeLimit(.minutes(3)))
    struct LabLinkTests {
        /// `ping`'s summary: the share of echoes lost and the round trips in milliseconds.
        struct Pings {
            var sent = 0
            var received = 0
            var min = 0.0
            var avg = 0.0
            var max = 0.0
            var loss: Double { sent == 0 ? 1 : 1 - Double(received) / Double(sent) }
        }

        static func ping(_ lab: InternetLab, from host: String, count: Int, interval: String) throws -> Pings {
            let namespace = try #require(lab.host(host)).namespace
            // ping exits non-zero when echoes are lost: its summary says how many.
            let output = try lab.run(
                in: namespace, ["sh", "-c", "ping -n -q -c \(count) -i \(interval) -W 1 \(InternetLab.serviceAddresses[0]) || true"])
            var pings = Pings()
            if let match = output.firstMatch(of: /(\d+) packets transmitted, (\d+) received/) {
                pings.sent = Int(match.1)!
                pings.received = Int(match.2)!
            }
            if let match = output.firstMatch(of: /= ([\d.]+)\/([\d.]+)\/([\d.]+)\//) {
                (pings.min, pings.avg, pings.max) = (Double(match.1)!, Double(match.2)!, Double(match.3)!)
            }
            #expect(pings.sent == count, "ping said: \(output)")
            return pings
        }

        @Test func anUplinkDelaysJittersAndLosesWhatItsShapeSays() async throws {
            let lab = try InternetLab(homes: [
                .init(.portRestricted),
                .init(.portRestricted, uplink: LinkShape(delay: .milliseconds(30), jitter: .milliseconds(8), seed: 7)),
                .init(.portRestricted, uplink: LinkShape(delay: .milliseconds(5), loss: 0.1, seed: 11)),
            ])
            defer { lab.remove() }
            // The first echo waits for ARP across the link too: out of the measurement.
            for host in ["port-restricted-1a", "port-restricted-2a", "port-restricted-3a"] {
                _ = try Self.ping(lab, from: host, count: 2, interval: "0.2")
            }
            let plain = try Self.ping(lab, from: "port-restricted-1a", count: 50, interval: "0.01")
            let delayed = try Self.ping(lab, from: "port-restricted-2a", count: 100, interval: "0.02")
            let before = try #require(lab.uplinkStatistics(home: 3)).up
            let lossy = try Self.ping(lab, from: "port-restricted-3a", count: 600, interval: "0.005")
            try await Task.sleep(for: .milliseconds(200))  // the stage publishes its counts every 50 ms
            var up = try #require(lab.uplinkStatistics(home: 3)).up
            (up.lost, up.frames) = (up.lost - before.lost, up.frames - before.frames)
            print(
                "lab links: veth rtt \(plain.avg) ms; 30±8 ms each way: rtt min \(delayed.min) avg \(delayed.avg) max \(delayed.max) ms; "
                    + "10% loss each way: \(Int(lossy.loss * 100))% of echoes lost (\(up.lost) of \(up.lost + up.frames) frames up)")
            #expect(plain.loss == 0 && plain.avg < 5)
            // Two crossings of 22–38 ms, and the veth path's fraction of a millisecond.
            #expect(delayed.loss == 0)
            #expect(delayed.min >= 44 && delayed.max <= 76 + 10, "rtt \(delayed.min)–\(delayed.max) ms")
            #expect(delayed.max - delayed.min >= 4, "no jitter: \(delayed.min)–\(delayed.max) ms")
            #expect(delayed.avg >= 54 && delayed.avg <= 66 + 5, "rtt avg \(delayed.avg) ms")
            // An echo survives both ways with 0.9², so about 19% are lost (600 draws: σ ≈ 1.6%).
            #expect(lossy.loss >= 0.12 && lossy.loss <= 0.27, "\(lossy.loss)")
            let frameLoss = Double(up.lost) / Double(up.lost + up.frames)
            #expect(frameLoss >= 0.06 && frameLoss <= 0.14, "\(up)")
            #expect(lossy.min >= 10, "a lossy uplink's delay: \(lossy.min) ms")
        }

        @Test func anUplinkWithARateCarriesThatRate() async throws {
            let lab = try InternetLab(homes: [.init(.portRestricted, uplink: LinkShape(delay: .milliseconds(2), rateBitsPerSecond: 40_000_000))])
            defer { lab.remove() }
            let host = try #require(lab.host("port-restricted-1a"))
            let bitsPerSecond = try lab.tcpThroughput(from: host, seconds: 2) * 8
            print("lab links: a 40 Mbit/s uplink carried \(Int(bitsPerSecond / 1e6)) Mbit/s of TCP")
            #expect(bitsPerSecond > 30e6 && bitsPerSecond < 42e6, "\(bitsPerSecond)")
        }
    }
}
