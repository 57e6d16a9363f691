import Foundation

extension InternetLab {
    /// A home's uplink carried by a ``LinkStage`` (delay, jitter, loss) instead of a veth:
    /// the router's `wan` is one TAP end, the other (`r<n>`) is plugged into the public
    /// bridge; rate, where the shape has one, is a token bucket on both ends.
    func plugStage(home number: Int, shape: LinkShape, router: String) throws -> LinkStage {
        // Made in the test's namespace, then moved: names unique among this process's labs.
        let base = "t\(tag.replacingOccurrences(of: "-", with: "x"))y\(number)"
        let stage = try LinkStage(names: (a: base + "a", b: base + "b"), shape: shape)
        do {
            try LabShell.run(["ip", "link", "set", "dev", stage.names.a, "netns", router])
            try run(in: router, ["ip", "link", "set", "dev", stage.names.a, "name", "wan"])
            try LabShell.run(["ip", "link", "set", "dev", stage.names.b, "netns", serviceNamespace])
            try run(in: serviceNamespace, ["ip", "link", "set", "dev", stage.names.b, "name", "r\(number)"])
            if let rate = shape.rateBitsPerSecond {
                // A burst of at least a few frames, and of what the rate sends in 4 ms.
                let burst = max(rate / 8 / 250, 4 * 1514)
                for (namespace, device) in [(router, "wan"), (serviceNamespace, "r\(number)")] {
                    try run(
                        in: namespace,
                        ["tc", "qdisc", "replace", "dev", device, "root", "tbf", "rate", "\(rate)bit", "burst", "\(burst)", "latency", "100ms"])
                }
            }
        } catch {
            stage.stop()
            throw error
        }
        return stage
    }

    /// What the stage on home `number`'s uplink carried: `up` from the home, `down` to it
    /// (nil for a home whose uplink is a plain veth).
    public func uplinkStatistics(home number: Int) -> (up: LinkStatistics, down: LinkStatistics)? {
        guard let stage = stages.withLock({ $0[number] }) else { return nil }
        let statistics = stage.statistics
        return (statistics.aToB, statistics.bToA)
    }
}
