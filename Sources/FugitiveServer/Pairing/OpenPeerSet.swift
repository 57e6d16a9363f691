import FugitiveWire

/// A set of peers with O(1) insert, remove and uniform random sampling, for picking
/// pairing candidates from a large swarm without scanning it and without always
/// offering the same few peers (which a hash-ordered `Set`'s first elements would be).
struct OpenPeerSet: Sendable {
    private var elements: [PeerID] = []
    private var positions: [PeerID: Int] = [:]

    var count: Int { elements.count }
    var isEmpty: Bool { elements.isEmpty }

    func contains(_ peer: PeerID) -> Bool { positions[peer] != nil }

    mutating func insert(_ peer: PeerID) {
        guard positions[peer] == nil else { return }
        positions[peer] = elements.count
        elements.append(peer)
    }

    mutating func remove(_ peer: PeerID) {
        guard let position = positions.removeValue(forKey: peer) else { return }
        let last = elements.removeLast()
        if position < elements.count {
            elements[position] = last
            positions[last] = position
        }
    }

    /// Visits elements from a random starting point, wrapping around, until `body`
    /// returns false or all were visited.
    func visitFromRandomStart(using generator: inout some RandomNumberGenerator, _ body: (PeerID) -> Bool) {
        guard !elements.isEmpty else { return }
        let start = Int.random(in: 0..<elements.count, using: &generator)
        for offset in 0..<elements.count {
            if !body(elements[(start + offset) % elements.count]) { return }
        }
    }
}
