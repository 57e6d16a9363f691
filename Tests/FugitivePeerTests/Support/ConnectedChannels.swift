import FugitiveRTC
import FugitiveTestSupport
import Logging

/// Two real peer connections on loopback with one data channel open between them: what
/// the peer-link tests put a ``PeerLink`` (or a hostile writer) on either end of.
struct ConnectedChannels {
    let loop: GLibEventLoop
    let connections: [PeerConnection]
    /// The channel the first connection opened, and the second's end of it.
    let opened: DataChannel
    let accepted: DataChannel
    /// The candidate trickle between the two; cancelled by ``close()``.
    let trickle: [Task<Void, Never>]

    static func open(logger: Logger) async throws -> ConnectedChannels {
        let loop = GLibEventLoop()
        let configuration = PeerConnection.Configuration(localAddresses: ["127.0.0.1"])
        let a = try PeerConnection(configuration: configuration, loop: loop, logger: logger)
        let b = try PeerConnection(configuration: configuration, loop: loop, logger: logger)
        try b.setRemoteDescription(SessionDescription(kind: .offer, sdp: try a.createOffer().sdp))
        try a.setRemoteDescription(SessionDescription(kind: .answer, sdp: try b.createAnswer().sdp))
        let trickle = [
            Task { for await candidate in a.localCandidates { b.addRemoteCandidate(candidate) } },
            Task { for await candidate in b.localCandidates { a.addRemoteCandidate(candidate) } },
        ]
        let incoming = Task { () -> DataChannel? in
            for await channel in b.incomingChannels { return channel }
            return nil
        }
        let channel = try await a.createDataChannel(label: "fugitive")
        guard let remote = await incoming.value else { throw TestFailure("no channel arrived") }
        return ConnectedChannels(loop: loop, connections: [a, b], opened: channel, accepted: remote, trickle: trickle)
    }

    func close() {
        for task in trickle { task.cancel() }
        for connection in connections { connection.close() }
    }
}
