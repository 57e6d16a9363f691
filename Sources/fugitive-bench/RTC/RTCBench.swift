import ArgumentParser
import Foundation
import FugitiveRTC
import Logging

/// `fugitive-bench rtc`: FugitiveRTC on loopback — bulk throughput of one data channel
/// with 16 KiB and 64 KiB messages, connection setup time (offer → channel open) — and,
/// in the same run, the same bulk transfer between two aiortc peers and between two
/// RTCPeerConnections in one headless Chromium page, with the ratios.
struct RTCBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rtc", abstract: "WebRTC data channel throughput and setup time, against aiortc and Chromium.")

    @Option(help: "Megabytes per FugitiveRTC transfer.") var megabytes = 200
    @Option(help: "Connections timed for setup.") var setups = 20
    @Option(help: "Megabytes for the aiortc reference (it is slow).") var aiortcMegabytes = 20
    @Option(help: "Megabytes for the Chromium reference.") var chromiumMegabytes = 50
    @Option(help: "Python with aiortc and playwright (the test venv).") var python = ".venv/bin/python"
    @Option(help: "Where aiortc_bulk.py and chromium_bulk.py are.") var interop = "Tests/Interop"
    @Flag(help: "Print one JSON object.") var json = false

    struct Report: Codable {
        var throughput16kMBps: Double
        var throughput64kMBps: Double
        /// The datagram size the two peers chose on loopback (a local path, so larger
        /// than WebRTC's 1200 bytes: `Configuration.localPathMTU`).
        var datagramSize: Int
        /// 16 KiB messages in 1200-byte datagrams: the local-path extension off, as on a
        /// path to a browser or over the Internet.
        var throughput16k1200MBps: Double
        var setupP50Ms: Double
        var setupP95Ms: Double
        var chromiumMBps: Double?
        var aiortcMBps: Double?
        var ratioToChromium: Double?
        var ratioToAiortc: Double?
        var megabytes: Int
    }

    func run() async throws {
        var logger = Logger(label: "fugitive.bench.rtc")
        logger.logLevel = .error
        let loop = (GLibEventLoop(), GLibEventLoop())
        func log(_ line: String) { if !json { print("· \(line)") } }

        var setupMillis: [Double] = []
        for _ in 0..<setups {
            let (a, b) = try Self.pair(loops: loop, logger: logger)
            let start = ContinuousClock.now
            try await Self.connect(a, b)
            _ = try await a.createDataChannel(label: "setup")
            setupMillis.append((ContinuousClock.now - start).milliseconds)
            a.close()
            b.close()
        }
        setupMillis.sort()
        log("setup over \(setups): p50 \(Self.format(Self.percentile(setupMillis, 0.5))) ms")
        let (throughput16k, datagramSize) = try await measure(size: 16 * 1024, loop: loop, logger: logger)
        log("16 KiB messages: \(Self.format(throughput16k)) MB/s")
        let (throughput64k, _) = try await measure(size: 64 * 1024, loop: loop, logger: logger)
        log("64 KiB messages: \(Self.format(throughput64k)) MB/s")
        let (throughput1200, _) = try await measure(size: 16 * 1024, localPathMTU: 0, loop: loop, logger: logger)
        log("16 KiB messages, 1200-byte datagrams: \(Self.format(throughput1200)) MB/s")
        let aiortc = reference("aiortc_bulk.py", megabytes: aiortcMegabytes)
        log("aiortc ↔ aiortc: \(aiortc.map { Self.format($0) } ?? "unavailable") MB/s")
        let chromium = reference("chromium_bulk.py", megabytes: chromiumMegabytes)
        log("Chromium ↔ Chromium: \(chromium.map { Self.format($0) } ?? "unavailable") MB/s")

        let report = Report(
            throughput16kMBps: throughput16k, throughput64kMBps: throughput64k, datagramSize: datagramSize, throughput16k1200MBps: throughput1200,
            setupP50Ms: Self.percentile(setupMillis, 0.5), setupP95Ms: Self.percentile(setupMillis, 0.95),
            chromiumMBps: chromium, aiortcMBps: aiortc,
            ratioToChromium: chromium.map { throughput16k / $0 }, ratioToAiortc: aiortc.map { throughput16k / $0 }, megabytes: megabytes)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            print(
                """
                WebRTC data channel, loopback, one channel (\(megabytes) MB per FugitiveRTC transfer)
                  FugitiveRTC, 16 KiB messages   \(Self.format(throughput16k)) MB/s   (local path: \(datagramSize)-byte datagrams)
                  FugitiveRTC, 64 KiB messages   \(Self.format(throughput64k)) MB/s
                  FugitiveRTC, 16 KiB messages in 1200-byte datagrams (as to a browser)   \(Self.format(throughput1200)) MB/s
                  Chromium ↔ Chromium, 16 KiB    \(chromium.map { Self.format($0) } ?? "–") MB/s   ratio \(report.ratioToChromium.map { Self.format($0) + "×" } ?? "–")
                  aiortc ↔ aiortc, 16 KiB        \(aiortc.map { Self.format($0) } ?? "–") MB/s   ratio \(report.ratioToAiortc.map { Self.format($0) + "×" } ?? "–")
                  setup, offer → channel open    p50 \(Self.format(report.setupP50Ms)) ms, p95 \(Self.format(report.setupP95Ms)) ms over \(setups)
                """)
        }
    }

    /// One transfer of `megabytes` in `size`-byte messages; MB/s from the first send to
    /// the last byte received, and the datagram size the peers chose.
    func measure(
        size: Int, localPathMTU: Int = PeerConnection.Configuration.defaultLocalPathMTU, loop: (GLibEventLoop, GLibEventLoop), logger: Logger
    ) async throws -> (MBps: Double, datagramSize: Int) {
        let (a, b) = try Self.pair(loops: loop, logger: logger, localPathMTU: localPathMTU)
        defer { a.close(); b.close() }
        try await Self.connect(a, b)
        let incoming = Task { () -> DataChannel? in
            for await channel in b.incomingChannels { return channel }
            return nil
        }
        let channel = try await a.createDataChannel(label: "bulk")
        guard let remote = await incoming.value else { throw ValidationError("no channel arrived") }
        let total = megabytes * 1_000_000
        let start = ContinuousClock.now
        async let arrived: Int = {
            var count = 0
            for await message in remote.messages {
                count += message.count
                if count >= total { break }
            }
            return count
        }()
        let payload = [UInt8](repeating: 0x5a, count: size)
        var sent = 0
        while sent < total {
            let count = min(size, total - sent)
            try await channel.send(.binary(count == size ? payload : Array(payload[..<count])))
            sent += count
        }
        guard await arrived >= total else { throw ValidationError("the transfer ended early") }
        let seconds = (ContinuousClock.now - start).seconds
        let statistics = a.statistics()
        let counters = statistics.counters
        if !json, counters.datagramsSent > 0 {
            print(
                "· \(size)-byte messages, datagrams up to \(statistics.datagramSize) bytes: \(counters.datagramsSent) sent, \(counters.bytesSent / counters.datagramsSent) bytes on average"
            )
        }
        return (Double(total) / 1e6 / seconds, statistics.datagramSize)
    }

    /// Runs a reference script; its MB/s, or nil when it cannot run here.
    func reference(_ script: String, megabytes: Int) -> Double? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = ["\(interop)/\(script)", "--megabytes", "\(megabytes)", "--size", "16384"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return nil }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        return object?["MBps"] as? Double
    }

    /// Two connections, each on its own GLib loop: as two peers in two processes would
    /// be (one loop thread for both made that thread the bottleneck of the benchmark).
    static func pair(
        loops: (GLibEventLoop, GLibEventLoop), logger: Logger, localPathMTU: Int = PeerConnection.Configuration.defaultLocalPathMTU
    ) throws -> (PeerConnection, PeerConnection) {
        let configuration = PeerConnection.Configuration(localAddresses: ["127.0.0.1"], localPathMTU: localPathMTU)
        return (
            try PeerConnection(configuration: configuration, loop: loops.0, logger: logger),
            try PeerConnection(configuration: configuration, loop: loops.1, logger: logger)
        )
    }

    /// Offer/answer and trickle between `a` and `b`, in memory.
    static func connect(_ a: PeerConnection, _ b: PeerConnection) async throws {
        try b.setRemoteDescription(SessionDescription(kind: .offer, sdp: try a.createOffer().sdp))
        try a.setRemoteDescription(SessionDescription(kind: .answer, sdp: try b.createAnswer().sdp))
        Task { for await candidate in a.localCandidates { b.addRemoteCandidate(candidate) } }
        Task { for await candidate in b.localCandidates { a.addRemoteCandidate(candidate) } }
    }

    static func percentile(_ sorted: [Double], _ p: Double) -> Double {
        guard !sorted.isEmpty else { return 0 }
        return sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * p).rounded()))]
    }

    static func format(_ value: Double) -> String { String(format: "%.1f", value) }
}
