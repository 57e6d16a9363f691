import FugitiveWire

extension OrchestratorState {
    /// Adds what a peer's `report` grew by since its last one to its swarm's delivery
    /// totals. The numbers are the peer's claim — the server sees none of these bytes —
    /// so they are bounded, never trusted: each counter's growth is capped at
    /// ``Configuration/maxReportedBytesPerSecond`` times the time since the session's last
    /// report (at least one second), and every sum saturates instead of trapping. A
    /// counter that went down (a peer that restarted under a resumed session) starts over
    /// from its new value, within the same cap.
    mutating func record(_ report: DeliveryReport, from id: PeerID, now: Instant) -> [Action] {
        guard let index = sessions.index(forKey: id) else { return [] }
        let last = sessions.values[index].reported
        let elapsed = max(1.0, (now - sessions.values[index].reportedAt).seconds)
        let budget = Self.bytes(configuration.maxReportedBytesPerSecond, times: elapsed)
        func grown(_ new: UInt64, _ old: UInt64) -> UInt64 { min(budget, new >= old ? new - old : new) }
        let swarm = sessions.values[index].swarm
        var delivery = delivered[swarm, default: Delivery()]
        delivery.fromOrigin.saturatingAdd(grown(report.fromOrigin, last.fromOrigin))
        delivery.fromPeers.saturatingAdd(grown(report.fromPeers, last.fromPeers))
        delivery.served.saturatingAdd(grown(report.served, last.served))
        // Part of what was served: never more than it (a claim, like the rest).
        delivery.servedRelayed.saturatingAdd(grown(min(report.servedRelayed, report.served), min(last.servedRelayed, last.served)))
        delivered[swarm] = delivery
        sessions.values[index].reported = report
        sessions.values[index].reportedAt = now
        return []
    }

    /// `rate × seconds` as a byte count, saturating.
    static func bytes(_ rate: UInt64, times seconds: Double) -> UInt64 {
        let product = Double(rate) * seconds
        return product >= Double(UInt64.max) ? .max : UInt64(product)
    }
}

extension UInt64 {
    /// Adds `other`, staying at `UInt64.max` instead of trapping on overflow.
    mutating func saturatingAdd(_ other: UInt64) {
        let (sum, overflow) = addingReportingOverflow(other)
        self = overflow ? .max : sum
    }
}
