import Foundation

/// What the demo measured: bytes from the origin (counted by the origin) and from peers,
/// the offload ratio against its limit 1 − 1/N, latency by source, links, failures.
struct DemoSummary {
    let peers: Int
    let resources: Int
    let originBytes: Int
    let records: [DemoSwarm.Record]
    let links: Int

    var peerBytes: Int { records.filter { $0.source == "peer" }.reduce(0) { $0 + $1.bytes } }
    var failures: Int { records.filter { $0.source == "failed" }.count }
    var offloadRatio: Double { peerBytes + originBytes == 0 ? 0 : Double(peerBytes) / Double(peerBytes + originBytes) }
    var limit: Double { 1 - 1 / Double(peers) }

    func latencies(_ source: String?) -> [Double] {
        records.filter { $0.source != "failed" && (source == nil || $0.source == source) }.map(\.millis).sorted()
    }

    static func percentile(_ sorted: [Double], _ p: Double) -> Double {
        guard !sorted.isEmpty else { return 0 }
        return sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * p).rounded()))]
    }

    func json() -> String {
        var bySource: [String: [String: Double]] = [:]
        for source in ["origin", "peer", "memory", "disk"] {
            let values = latencies(source)
            guard !values.isEmpty else { continue }
            bySource[source] = ["count": Double(values.count), "p50Ms": Self.percentile(values, 0.5), "p95Ms": Self.percentile(values, 0.95)]
        }
        let all = latencies(nil)
        let object: [String: Any] = [
            "peers": peers, "resources": resources, "originBytes": originBytes, "peerBytes": peerBytes, "offloadRatio": offloadRatio,
            "offloadLimit": limit, "failures": failures, "p50Ms": Self.percentile(all, 0.5), "p95Ms": Self.percentile(all, 0.95),
            "links": links, "bySource": bySource,
        ]
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    func table() -> String {
        func row(_ name: String, _ value: String) -> String { "  " + name.padding(toLength: 28, withPad: " ", startingAt: 0) + value }
        var lines = [
            "", "Summary: \(peers) peers × \(resources) resources",
            row("bytes from the origin", "\(DemoProgress.megabytes(originBytes)) MB"),
            row("bytes from peers", "\(DemoProgress.megabytes(peerBytes)) MB"),
            row("offload ratio", String(format: "%.3f (limit 1 − 1/%d = %.3f)", offloadRatio, peers, limit)),
        ]
        for source in ["peer", "origin", "memory", "disk"] {
            let values = latencies(source)
            guard !values.isEmpty else { continue }
            lines.append(
                row(
                    "latency, \(source) (\(values.count))",
                    String(format: "p50 %.1f ms, p95 %.1f ms", Self.percentile(values, 0.5), Self.percentile(values, 0.95))))
        }
        lines.append(row("links open at the end", "\(links)"))
        lines.append(row("failures", "\(failures)"))
        return lines.joined(separator: "\n")
    }
}
