import FugitiveWire

/// Chooses partners for a peer that asked for some. No I/O: it ranks what it is given.
///
/// Order of preference, each criterion breaking the ties of the one before:
/// 1. the round-trip time between the two: measured (either side reported it), else
///    predicted from their network coordinates (``NetworkCoordinate``) — any estimate
///    beats none, and lower beats higher;
/// 2. network proximity: same IPv4 /24 or IPv6 /48, then same /16;
/// 3. free capacity (links the candidate can still take);
/// 4. content: the candidate holds something the asker wants.
/// Peers at their maximum are never picked, nor the asker itself, nor current partners.
public struct PairingPolicy: Sendable {
    /// What the policy knows of a candidate.
    public struct Candidate: Sendable {
        public var id: PeerID
        public var address: NetworkAddress?
        /// Links the candidate can still take (its max minus current and pending pairs).
        public var freeSlots: Int
        /// Round-trip time to the asker, in milliseconds, when either side measured it.
        public var rttMillis: Double?
        /// The round trip their coordinates predict, when both are settled.
        public var predictedMillis: Double?
        /// How many of the asker's wanted resources the candidate holds.
        public var wantedHeld: Int

        public init(
            id: PeerID, address: NetworkAddress?, freeSlots: Int, rttMillis: Double? = nil, predictedMillis: Double? = nil, wantedHeld: Int = 0
        ) {
            self.id = id
            self.address = address
            self.freeSlots = freeSlots
            self.rttMillis = rttMillis
            self.predictedMillis = predictedMillis
            self.wantedHeld = wantedHeld
        }
    }

    public init() {}

    /// The candidates in order of preference, without the ineligible ones.
    public func rank(asker: PeerID, address: NetworkAddress?, excluding partners: Set<PeerID>, candidates: [Candidate]) -> [Candidate] {
        let eligible = candidates.filter { $0.id != asker && !partners.contains($0.id) && $0.freeSlots > 0 }
        return eligible.sorted { a, b in
            switch (a.rttMillis ?? a.predictedMillis, b.rttMillis ?? b.predictedMillis) {
            case (let x?, let y?) where x != y: return x < y
            case (.some, nil): return true
            case (nil, .some): return false
            default: break
            }
            let pa = proximity(address, a.address)
            let pb = proximity(address, b.address)
            if pa != pb { return pa > pb }
            if a.freeSlots != b.freeSlots { return a.freeSlots > b.freeSlots }
            if a.wantedHeld != b.wantedHeld { return a.wantedHeld > b.wantedHeld }
            return a.id.rawValue < b.id.rawValue
        }
    }

    /// The best `count` candidates.
    public func choose(_ count: Int, asker: PeerID, address: NetworkAddress?, excluding partners: Set<PeerID>, candidates: [Candidate]) -> [Candidate]
    {
        Array(rank(asker: asker, address: address, excluding: partners, candidates: candidates).prefix(count))
    }

    private func proximity(_ a: NetworkAddress?, _ b: NetworkAddress?) -> Int {
        guard let a, let b else { return 0 }
        return a.proximity(to: b)
    }
}
