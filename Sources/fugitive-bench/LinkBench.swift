import ArgumentParser
import Foundation
import FugitiveLab

/// `fugitive-bench link`: how fast the network lab's user-space link stage (``LinkStage``,
/// the lab's `netem`) carries TCP, next to a plain veth uplink in the same lab and run.
/// Both through a NAT router of the same kind; `iperf3` sends from a home to the public
/// segment. Needs root.
struct LinkBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "link",
        abstract: "TCP throughput through the lab's link stage, against a veth uplink (needs root, iperf3)."
    )

    @Option(help: "Seconds each iperf3 run sends.")
    var seconds: Int = 3

    @Option(help: "One-way delay the shaped uplink adds, in milliseconds (0: the stage's own speed).")
    var delayMillis: Int = 0

    @Flag(help: "Print one JSON object instead of a table.")
    var json = false

    struct Report: Codable {
        var seconds: Int
        var delayMillis: Int
        var vethMBps: Double
        var stageMBps: Double
        var ratio: Double
        var stageFrames: Int
        var stageOverflowed: Int
    }

    func run() async throws {
        let shape = LinkShape(delay: .milliseconds(delayMillis), queueBytes: 32 << 20)
        let lab = try InternetLab(homes: [.init(.portRestricted), .init(.portRestricted, uplink: shape)])
        defer { lab.remove() }
        let veth = try throughput(lab, from: "port-restricted-1a")
        let stage = try throughput(lab, from: "port-restricted-2a")
        let up = lab.uplinkStatistics(home: 2)?.up ?? LinkStatistics()
        let report = Report(
            seconds: seconds, delayMillis: delayMillis, vethMBps: veth / 1e6, stageMBps: stage / 1e6, ratio: stage / veth,
            stageFrames: up.frames, stageOverflowed: up.overflowed)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            print("TCP from a home through a NAT router, \(seconds) s each (iperf3):")
            print(String(format: "  veth uplink           %8.1f MB/s", report.vethMBps))
            print(
                String(
                    format: "  link stage (%3d ms)   %8.1f MB/s  (%.2f× veth; %d frames, %d dropped for a full queue)", delayMillis,
                    report.stageMBps, report.ratio, up.frames, up.overflowed))
        }
    }

    /// Bytes per second iperf3 received from `host` at the service namespace.
    func throughput(_ lab: InternetLab, from host: String) throws -> Double {
        guard let namespace = lab.host(host)?.namespace else { throw ValidationError("no host \(host)") }
        let address = InternetLab.serviceAddresses[1]
        let server = lab.process(in: lab.serviceNamespace, "/usr/bin/iperf3", ["-s", "-1", "-B", address])
        try server.run()
        defer { if server.isRunning { server.terminate() } }
        // The server listens within a moment; a client that came too early tries again.
        var lastError: Error?
        for _ in 0..<20 {
            do {
                let report = try lab.run(in: namespace, ["iperf3", "-c", address, "-t", "\(seconds)", "-J"])
                guard
                    let json = try JSONSerialization.jsonObject(with: Data(report.utf8)) as? [String: Any],
                    let end = json["end"] as? [String: Any], let received = end["sum_received"] as? [String: Any],
                    let bits = received["bits_per_second"] as? Double
                else { throw ValidationError("iperf3 said: \(report.prefix(500))") }
                return bits / 8
            } catch {
                lastError = error
                usleep(100_000)
            }
        }
        throw lastError ?? ValidationError("iperf3 did not run")
    }
}
