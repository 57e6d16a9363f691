import FugitiveWire

/// Distance between peers that never measured each other, predicted from network
/// coordinates (``NetworkCoordinate``): every round trip the server learns — a link's RTT
/// as its peers report it, the server's own WebSocket ping to a peer — moves the
/// coordinates at both ends, and pairing ranks the predictions where no measurement exists.
extension OrchestratorState {
    /// A round trip between two peers moves both their coordinates (sessions on this
    /// instance only: a remote peer's coordinate lives on its own instance).
    mutating func place(_ a: PeerID, _ b: PeerID, millis: Double) {
        guard let first = sessions.index(forKey: a), let second = sessions.index(forKey: b) else { return }
        let (one, other) = (sessions.values[first].coordinate, sessions.values[second].coordinate)
        sessions.values[first].coordinate.update(rtt: millis, to: other, direction: Self.drawDirection())
        sessions.values[second].coordinate.update(rtt: millis, to: one, direction: Self.drawDirection())
    }

    /// The server's round trip to a peer (its WebSocket ping): the server is a node too,
    /// one every peer measures, so a peer with no link yet is placed — near the peers that
    /// are as near the server, on the side of its access link.
    public mutating func measureServerRoundTrip(_ id: PeerID, millis: Double) {
        guard let index = sessions.index(forKey: id) else { return }
        let peer = sessions.values[index].coordinate
        sessions.values[index].coordinate.update(rtt: millis, to: serverCoordinate, direction: Self.drawDirection())
        serverCoordinate.update(rtt: millis, to: peer, direction: Self.drawDirection())
    }

    /// The round trip predicted between two sessions; nil unless both coordinates are
    /// settled (a coordinate of one sample places a peer but predicts little).
    func predictedRoundTrip(_ a: borrowing Session, _ b: borrowing Session) -> Double? {
        guard a.coordinate.isSettled, b.coordinate.isSettled else { return nil }
        return a.coordinate.distance(to: b.coordinate)
    }

    private static func drawDirection() -> (x: Double, y: Double) { (Double.random(in: -1...1), Double.random(in: -1...1)) }
}
