import ArgumentParser
import Foundation
import FugitiveRTC
import Logging

/// `fugitive-bench rtc-churn` (hidden): opens and closes connection pairs in a loop and prints
/// the process's descriptors and resident memory before and after, as one JSON object.
/// A process of its own, so that nothing else allocates while it measures (the leak
/// test runs it).
struct RTCChurnCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rtc-churn", abstract: "Open and close WebRTC connections; report descriptors and memory.", shouldDisplay: false)

    @Option var cycles = 100
    @Option(help: "Cycles before the first measurement (pools and caches fill up).") var warmup = 10
    @Option(help: "A STUN server, IP:PORT: each cycle then makes an offer that gathers from it and closes it while it gathers.")
    var stun: String?

    func run() async throws {
        var logger = Logger(label: "fugitive.rtc-churn")
        logger.logLevel = .error
        let loops = (GLibEventLoop(), GLibEventLoop())
        for _ in 0..<warmup { try await cycle(loops, logger: logger) }
        let before = try await settle()
        for _ in 0..<cycles { try await cycle(loops, logger: logger) }
        let after = try await settle()
        let report: [String: Int] = [
            "cycles": cycles, "descriptorsBefore": before.descriptors, "descriptorsAfter": after.descriptors,
            "residentKiBBefore": before.residentKiB, "residentKiBAfter": after.residentKiB,
        ]
        print(String(decoding: try JSONSerialization.data(withJSONObject: report, options: [.sortedKeys]), as: UTF8.self))
    }

    /// One pair: connect, open a channel, send 100 kB, close both. With `--stun`: one
    /// offer, closed while it gathers — what a holder does when a partner it was paired
    /// with leaves at once.
    private func cycle(_ loops: (GLibEventLoop, GLibEventLoop), logger: Logger) async throws {
        if let stun {
            guard let colon = stun.lastIndex(of: ":"), let port = UInt16(stun[stun.index(after: colon)...]) else {
                throw ValidationError("--stun wants IP:PORT")
            }
            let configuration = PeerConnection.Configuration(stunServer: (String(stun[..<colon]), port), localAddresses: ["127.0.0.1"])
            let connection = try PeerConnection(configuration: configuration, loop: loops.0, logger: logger)
            _ = try connection.createOffer()
            try await Task.sleep(for: .microseconds(Int.random(in: 0...20_000)))
            connection.close()
            return
        }
        let (a, b) = try RTCBench.pair(loops: loops, logger: logger)
        try await RTCBench.connect(a, b)
        let channel = try await a.createDataChannel(label: "churn")
        try await channel.send(.binary([UInt8](repeating: 7, count: 100_000)))
        a.close()
        b.close()
    }

    /// Descriptors and resident memory once closing agents have been torn down.
    private func settle() async throws -> (descriptors: Int, residentKiB: Int) {
        try await Task.sleep(for: .milliseconds(300))
        let descriptors = try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count
        let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return (descriptors, Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0)
    }
}
