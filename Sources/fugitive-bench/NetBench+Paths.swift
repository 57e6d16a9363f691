import ArgumentParser
import Foundation
import FugitiveLab
import FugitiveTestSupport

/// The path half of `fugitive-bench net`: bulk throughput of one data channel across a lab
/// path of a given round trip and loss, in WebRTC's 1200-byte datagrams (a lab path is not
/// local), FugitiveRTC (`fugitive-bench rtc-peer`) against Chromium (Tests/Interop's
/// `chromium_peer.py`) on the same path. A public host sends to a host behind a full-cone
/// NAT whose uplink carries the path's delay and loss, both ways (``LinkShape``).
struct LabPath: Sendable, Codable, CustomStringConvertible {
    var rttMs: Int
    var lossPercent: Double

    var description: String { "\(rttMs) ms, \(lossPercent.formatted()) % loss" }

    /// `rtt:loss`, e.g. `50:1`.
    init?(_ text: Substring) {
        let parts = text.split(separator: ":")
        guard parts.count == 2, let rtt = Int(parts[0]), rtt >= 0, let loss = Double(parts[1]), (0..<100).contains(loss) else { return nil }
        (rttMs, lossPercent) = (rtt, loss)
    }

    static func list(_ text: String) throws -> [LabPath] {
        try text.split(separator: ",").map { part in
            guard let path = LabPath(part) else { throw ValidationError("a path is rtt:loss (ms:percent), not \(part)") }
            return path
        }
    }

    /// What the uplink adds: the whole round trip (it is crossed once each way), and the
    /// loss in each direction. Nil for 0 ms and 0 %: a plain veth.
    var uplink: LinkShape? {
        guard rttMs > 0 || lossPercent > 0 else { return nil }
        return LinkShape(delay: .microseconds(rttMs * 500), loss: lossPercent / 100, queueBytes: 32 << 20)
    }
}

/// One path's result.
struct PathResult: Codable {
    var rttMs: Int
    var lossPercent: Double
    var fugitiveMBps: Double
    var chromiumMBps: Double?
    /// fugitiveMBps ÷ chromiumMBps.
    var ratioToChromium: Double?
    var megabytes: Int
    var chromiumMegabytes: Int?
    /// Round trips of small messages sent every 100 ms during FugitiveRTC's transfer,
    /// on the bulk channel itself (behind its queue) and on a channel of their own (a
    /// second run), median and largest.
    var probeSameChannelMs: Double?
    var probeSameChannelMaxMs: Double?
    var probeOwnChannelMs: Double?
    var probeOwnChannelMaxMs: Double?
}

/// Runs transfers across one lab path: each side a process signalled over JSON lines
/// (the rtc-peer/aiortc_peer.py protocol), the bench relaying between them.
struct PathRunner {
    let lab: InternetLab
    let sender: InternetLab.Host
    let receiver: InternetLab.Host

    init(_ path: LabPath) throws {
        lab = try InternetLab(homes: [.init(.fullCone, uplink: path.uplink)], publicHosts: 1)
        guard let sender = lab.host("public-1"), let receiver = lab.host("full-cone-1a") else {
            lab.remove()
            throw ValidationError("the lab has no public-1 or full-cone-1a")
        }
        (self.sender, self.receiver) = (sender, receiver)
    }

    func remove() { lab.remove() }

    struct Transfer {
        var megabytesPerSecond: Double
        /// The sender's probes (``RTCProbe``): median and largest round trip, in ms.
        var probeMedianMs: Double?
        var probeMaxMs: Double?
    }

    /// MB/s of `bytes` from the sender to the receiver, from the receiver's open channel
    /// to its last byte. `command`: the peer program and its first arguments; `probe`:
    /// rtc-peer's `--probe` for the sender.
    func transfer(_ command: [String], bytes: Int, probe: String? = nil, timeout: Duration) async throws -> Transfer {
        func start(_ host: InternetLab.Host, _ arguments: [String]) throws -> InteropProcess {
            try InteropProcess("/usr/sbin/ip", ["netns", "exec", host.namespace] + command + arguments + ["--plain", "--address", host.address])
        }
        let offerer = try start(
            sender, ["--role", "offer", "--channel", "local", "--bytes", "\(bytes)", "--receive-bytes", "0"] + (probe.map { ["--probe", $0] } ?? []))
        defer { offerer.terminate() }
        let answerer = try start(receiver, ["--role", "answer", "--channel", "remote", "--bytes", "0", "--receive-bytes", "\(bytes)"])
        defer { answerer.terminate() }
        let forward = Task { () -> [String: any Sendable]? in
            for await message in offerer.messages {
                if message["type"] as? String == "done" { return message }
                answerer.send(message)
            }
            return nil
        }
        defer { forward.cancel() }
        let done = Task { () -> [String: any Sendable]? in
            for await message in answerer.messages {
                if message["type"] as? String == "done" { return message }
                offerer.send(message)
            }
            return nil
        }
        let timer = Task {
            try await Task.sleep(for: timeout)
            done.cancel()
        }
        defer { timer.cancel() }
        // A cancelled wait for the stream's next line ends it: the timer's cancel gives nil.
        guard let report = await done.value else {
            throw ValidationError(
                "\(command.last ?? "") did not finish within \(timeout): \(answerer.diagnostics.suffix(800)) \(offerer.diagnostics.suffix(800))")
        }
        guard let count = (report["bytes"] as? String).flatMap(Int.init), count >= bytes,
            let microseconds = (report["microseconds"] as? String).flatMap(Int.init), microseconds > 0
        else { throw ValidationError("the receiver reported \(report)") }
        var result = Transfer(megabytesPerSecond: Double(count) / Double(microseconds))
        if probe != nil {
            // The sender reports once its last message is queued, a moment after the receiver.
            let timer = Task {
                try await Task.sleep(for: .seconds(10))
                forward.cancel()
            }
            defer { timer.cancel() }
            let sent = await forward.value
            func milliseconds(_ key: String) -> Double? { (sent?[key] as? String).flatMap(Double.init).map { $0 / 1000 } }
            (result.probeMedianMs, result.probeMaxMs) = (milliseconds("probeMedianMicros"), milliseconds("probeMaxMicros"))
        }
        return result
    }
}

extension NetBench {
    static func milliseconds(_ value: Double?) -> String { value.map { String(format: "%.0f ms", $0) } ?? "–" }

    /// Every path of `--paths`, FugitiveRTC then Chromium on the same lab.
    func runPaths() async throws -> [PathResult] {
        var results: [PathResult] = []
        let bench = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
        let python = Binaries.repository.appendingPathComponent(".venv/bin/python").path
        let script = Binaries.repository.appendingPathComponent("Tests/Interop/chromium_peer.py").path
        let chromium = chromiumMegabytes > 0 && FileManager.default.isExecutableFile(atPath: python)
        for path in try LabPath.list(paths) {
            let runner = try PathRunner(path)
            defer { runner.remove() }
            // The slowest goal is 10 MB/s; a transfer gets ten times as long as that takes.
            let timeout = Duration.seconds(max(60, pathMegabytes))
            let main = try await runner.transfer([bench, "rtc-peer"], bytes: pathMegabytes * 1_000_000, probe: "same", timeout: timeout)
            let own = try await runner.transfer([bench, "rtc-peer"], bytes: pathMegabytes * 1_000_000, probe: "separate", timeout: timeout)
            let fugitive = main.megabytesPerSecond
            var reference: Double?
            if chromium {
                reference = try await runner.transfer(
                    [python, script], bytes: chromiumMegabytes * 1_000_000, timeout: .seconds(max(60, chromiumMegabytes * 4))
                ).megabytesPerSecond
            }
            let result = PathResult(
                rttMs: path.rttMs, lossPercent: path.lossPercent, fugitiveMBps: fugitive, chromiumMBps: reference,
                ratioToChromium: reference.map { fugitive / $0 }, megabytes: pathMegabytes, chromiumMegabytes: chromium ? chromiumMegabytes : nil,
                probeSameChannelMs: main.probeMedianMs, probeSameChannelMaxMs: main.probeMaxMs, probeOwnChannelMs: own.probeMedianMs,
                probeOwnChannelMaxMs: own.probeMaxMs)
            if !json {
                let chromiumText = reference.map { String(format: "%7.1f MB/s", $0) } ?? "      –"
                let ratio = result.ratioToChromium.map { String(format: "%.1f×", $0) } ?? "–"
                print(
                    "  \(path.description.padding(toLength: 20, withPad: " ", startingAt: 0))"
                        + String(format: " FugitiveRTC %7.1f MB/s", fugitive) + "   Chromium \(chromiumText)   ratio \(ratio)"
                        + "   probe behind bulk \(Self.milliseconds(main.probeMedianMs)) (max \(Self.milliseconds(main.probeMaxMs))),"
                        + " own channel \(Self.milliseconds(own.probeMedianMs)) (max \(Self.milliseconds(own.probeMaxMs)))")
            }
            results.append(result)
        }
        return results
    }
}
