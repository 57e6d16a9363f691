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

    func throughput(_ lab: InternetLab, from name: String) throws -> Double {
        guard let host = lab.host(name) else { throw ValidationError("no host \(name)") }
        return try lab.tcpThroughput(from: host, seconds: seconds)
    }
}
