import Foundation

extension InternetLab {
    /// Where the lab's scripts are (`scripts/lab` in the repository).
    public static var scripts: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("scripts/lab")
    }

    /// Measures, from the first host of every home and from every public host, the
    /// mapping and filtering behaviour of the path to the public segment (RFC 4787, tested
    /// as RFC 5780 does, with a probe server on two addresses and two ports), and throws
    /// unless each matches its ``NATKind``. Returns what was measured, by host name.
    @discardableResult
    public func verifyNATs() async throws -> [String: NATBehaviour] {
        let probe = Self.scripts.appendingPathComponent("nat-probe").path
        let (first, second) = (Self.serviceAddresses[0], Self.serviceAddresses[1])
        let server = process(in: serviceNamespace, "/usr/bin/env", ["python3", probe, "serve", first, second, "40001", "40002"])
        let ready = Pipe()
        server.standardOutput = ready
        try server.run()
        defer { server.terminate() }
        let line = String(decoding: ready.fileHandleForReading.availableData, as: UTF8.self)
        guard line.contains("serving") else { throw LabFailure("the NAT probe's server did not start: \(line)") }

        var measured: [String: NATBehaviour] = [:]
        var seenHomes = Set<Int>()
        let probed = hosts.filter { host in
            guard let home = host.home else { return true }
            return seenHomes.insert(home).inserted
        }
        for host in probed {
            if host.blocksUDP {
                // Nothing but DNS gets out: the probe must hear nothing.
                do {
                    let output = try run(in: host.namespace, ["python3", probe, "probe", first, second, "40001", "40002"])
                    throw LabFailure("UDP gets out of \(host), whose router should block it: \(output)")
                } catch let failure as LabFailure where failure.description.contains("no answer from the probe server") {
                    continue
                }
            }
            let output = try run(in: host.namespace, ["python3", probe, "probe", first, second, "40001", "40002"])
            guard let data = output.data(using: .utf8),
                let object = try JSONSerialization.jsonObject(with: data) as? [String: Any],
                let mapping = (object["mapping"] as? String).flatMap(NATBehaviour.Kind.init(rawValue:)),
                let filtering = (object["filtering"] as? String).flatMap(NATBehaviour.Kind.init(rawValue:))
            else { throw LabFailure("the NAT probe from \(host) said: \(output)") }
            let behaviour = NATBehaviour(mapping: mapping, filtering: filtering)
            let expected = NATBehaviour(mapping: host.kind.expectedMapping, filtering: host.kind.expectedFiltering)
            guard behaviour == expected else {
                throw LabFailure("\(host) should be behind a \(host.kind) NAT (\(expected)) but measured \(behaviour): \(output)")
            }
            measured[host.name] = behaviour
        }
        return measured
    }
}
