import Foundation

extension InternetLab {
    /// Bytes per second of one TCP flow that iperf3 sends for `seconds` from `host` to an
    /// iperf3 server at the second service address (in ``serviceNamespace``). Needs iperf3.
    public func tcpThroughput(from host: Host, seconds: Int) throws -> Double {
        let address = Self.serviceAddresses[1]
        let server = process(in: serviceNamespace, "/usr/bin/iperf3", ["-s", "-1", "-B", address])
        try server.run()
        defer { if server.isRunning { server.terminate() } }
        // The server listens within a moment; a client that came too early tries again.
        var lastError: Error?
        for _ in 0..<20 {
            do {
                let report = try run(in: host.namespace, ["iperf3", "-c", address, "-t", "\(seconds)", "-J"])
                guard
                    let json = try JSONSerialization.jsonObject(with: Data(report.utf8)) as? [String: Any],
                    let end = json["end"] as? [String: Any], let received = end["sum_received"] as? [String: Any],
                    let bits = received["bits_per_second"] as? Double
                else { throw LabFailure("iperf3 said: \(report.prefix(500))") }
                return bits / 8
            } catch {
                lastError = error
                usleep(100_000)
            }
        }
        throw lastError ?? LabFailure("iperf3 did not run")
    }
}
