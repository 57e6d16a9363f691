import FugitiveWire

/// What the server spends on holdings and parked sessions, by the address that made it
/// spend it (IPv6 by its /64, see ``NetworkAddress/limitKey(ipv6Prefix:)``) and in total.
/// A holding costs ``HoldingLedger/cost(of:)`` bytes from its announcement until it is
/// dropped, its session ends without parking, or its parked session expires, is resumed
/// (the resumed session takes it again) or is evicted.
struct HoldingLedger: Sendable {
    var bytesByAddress: [NetworkAddress?: Int] = [:]
    var bytes = 0
    /// Parked sessions' resume tokens per address, oldest first.
    var parkedByAddress: [NetworkAddress?: [String]] = [:]
    var parkedHoldings = 0

    /// Bookkeeping bytes for one holding: its URL plus the index entries around it.
    static func cost(of holding: Holding) -> Int { 160 + holding.url.utf8.count }

    mutating func charge(_ cost: Int, to key: NetworkAddress?) {
        bytesByAddress[key, default: 0] += cost
        bytes += cost
    }

    mutating func refund(_ cost: Int, to key: NetworkAddress?) {
        bytesByAddress[key, default: cost] -= cost
        if bytesByAddress[key] ?? 0 <= 0 { bytesByAddress[key] = nil }
        bytes -= cost
    }
}

extension OrchestratorState {
    /// The key that per-address limits count under for `address`.
    func limitKey(_ address: NetworkAddress?) -> NetworkAddress? {
        address?.limitKey(ipv6Prefix: configuration.ipv6LimitPrefix)
    }

    /// Records that `id` holds `holding`, unless a bound refuses it: the session's count or
    /// bytes, its address's bytes, or all holdings' bytes. Returns whether it was recorded.
    mutating func addHolding(_ holding: Holding, to id: PeerID) -> Bool {
        guard let index = sessions.index(forKey: id) else { return false }
        let key = limitKey(sessions.values[index].address)
        let cost = HoldingLedger.cost(of: holding)
        let previous = sessions.values[index].held[holding.digest]
        let previousCost = previous.map(HoldingLedger.cost(of:)) ?? 0
        let growth = cost - previousCost
        if growth > 0 {
            guard previous != nil || sessions.values[index].held.count < configuration.holdingsPerPeer,
                sessions.values[index].heldBytes + growth <= configuration.holdingBytesPerPeer,
                ledger.bytesByAddress[key, default: 0] + growth <= configuration.holdingBytesPerAddress,
                ledger.bytes + growth <= configuration.maxHoldingBytes
            else { return false }
        }
        if previous != nil { ledger.refund(previousCost, to: key) }
        ledger.charge(cost, to: key)
        sessions.values[index].held[holding.digest] = holding
        sessions.values[index].heldBytes += growth
        indexes[sessions.values[index].swarm, default: HolderIndex()].add(holding, holder: id)
        if instance != nil { journal.add(holding, of: id) }
        return true
    }

    /// Records that `id` no longer holds `digest`.
    mutating func removeHolding(_ digest: ResourceDigest, of id: PeerID) {
        guard let index = sessions.index(forKey: id), let holding = sessions.values[index].held.removeValue(forKey: digest) else { return }
        let cost = HoldingLedger.cost(of: holding)
        ledger.refund(cost, to: limitKey(sessions.values[index].address))
        sessions.values[index].heldBytes -= cost
        indexes[sessions.values[index].swarm]?.remove(digest, holder: id)
        if instance != nil { journal.drop(digest, of: id) }
    }

    /// Parks a closed session's id and holdings for a resume, within the bounds on parked
    /// sessions per address and in total: the address's oldest parked session makes room
    /// for the newest; when all parked sessions are at the bound, the session is not
    /// parked. The holdings' cost stays charged while parked. Returns whether it was parked.
    mutating func park(_ session: Session, links: Set<PeerID>, now: Instant, actions: inout [Action]) -> Bool {
        let key = limitKey(session.address)
        while let tokens = ledger.parkedByAddress[key], tokens.count >= configuration.parkedPerAddress, let oldest = tokens.first {
            ledger.parkedByAddress[key] = tokens.count == 1 ? nil : Array(tokens.dropFirst())
            if let evicted = unpark(oldest) {
                actions += endKeptLinks(of: evicted.id, evicted.links)
                if instance != nil { journal.remove(evicted.id) }
            }
        }
        guard parked.count < configuration.maxParkedSessions else { return false }
        let parkedSession = Parked(
            id: session.id, swarm: session.swarm, address: session.address, resumeToken: session.resumeToken,
            held: Array(session.held.values), expires: now + configuration.resumeGrace, generation: session.generation, links: links)
        parked[session.resumeToken] = parkedSession
        ledger.parkedByAddress[key, default: []].append(session.resumeToken)
        ledger.parkedHoldings += parkedSession.held.count
        if instance != nil { journal.parked[session.id] = record(parked: parkedSession) }
        return true
    }

    /// Forgets a parked session and refunds what its holdings cost. Returns it.
    @discardableResult
    mutating func unpark(_ token: String) -> Parked? {
        guard let parkedSession = parked.removeValue(forKey: token) else { return nil }
        let key = limitKey(parkedSession.address)
        for holding in parkedSession.held { ledger.refund(HoldingLedger.cost(of: holding), to: key) }
        ledger.parkedHoldings -= parkedSession.held.count
        if var tokens = ledger.parkedByAddress[key], let position = tokens.firstIndex(of: token) {
            tokens.remove(at: position)
            ledger.parkedByAddress[key] = tokens.isEmpty ? nil : tokens
        }
        return parkedSession
    }

    /// Refunds everything a session that ends without parking holds.
    mutating func refundHoldings(of session: Session) {
        let key = limitKey(session.address)
        for holding in session.held.values { ledger.refund(HoldingLedger.cost(of: holding), to: key) }
    }

    /// Parked sessions, and the holdings they keep.
    public var parkedCount: (sessions: Int, holdings: Int) { (parked.count, ledger.parkedHoldings) }

    /// Bytes all holdings (live and parked) are charged.
    public var holdingBytes: Int { ledger.bytes }
}

extension NetworkAddress {
    /// The address per-address limits count under: an IPv4 address itself, an IPv6
    /// address by its first `ipv6Prefix` bits (one subscriber usually gets a /64).
    public func limitKey(ipv6Prefix: Int) -> NetworkAddress {
        guard family == .v6, ipv6Prefix < 128 else { return self }
        var masked = bytes
        for bit in max(0, ipv6Prefix)..<128 { masked[bit / 8] &= ~(0x80 >> UInt8(bit % 8)) }
        return NetworkAddress(family: .v6, bytes: masked)
    }

    init(family: Family, bytes: [UInt8]) {
        self.family = family
        self.bytes = bytes
    }
}
