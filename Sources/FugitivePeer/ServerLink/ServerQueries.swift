import FugitiveWire

/// The server as a directory the fetch pipeline asks: who holds a digest (`who-has` →
/// `holders`), what digest the server vouches for a URL (`vouch` → `vouched`), and what
/// this peer now holds (`have`). Requests and answers over the ``ServerLink``, matched by
/// request id and bounded by a timeout; the link manager, which reads the server's
/// messages, hands the answers here.
final class ServerQueries: Sendable {
    let server: ServerLink
    private let requests = ServerRequests()

    init(server: ServerLink) {
        self.server = server
    }

    /// Holders of `digest` the server knows, best first (at most 16), this peer aside;
    /// empty when the server cannot say within `timeout`.
    func holders(of digest: ResourceDigest, timeout: Duration) async -> [PeerID] {
        let answer = await ask(within: timeout) { id in
            .whoHas(WhoHas(requestID: id, digest: digest, limit: 16))
        }
        guard case .holders(let holders) = answer else { return [] }
        return others(holders.peers)
    }

    /// Holders of what peers announced under `url`, with the digest most of them announced
    /// for it. Only a hint — peers never trust peers: the fetch uses it once a trusted
    /// source names the same digest, and asks by digest otherwise.
    func holders(announcedFor url: String, timeout: Duration) async -> URLHolders {
        let answer = await ask(within: timeout) { id in
            .whoHas(WhoHas(requestID: id, url: url, limit: 16))
        }
        guard case .holders(let holders) = answer, let digest = holders.digest else { return URLHolders(digest: nil, peers: []) }
        return URLHolders(digest: digest, peers: others(holders.peers))
    }

    /// The digest the server vouches for `url` and its size, if it can within `timeout`.
    func vouch(_ url: String, timeout: Duration) async -> VouchedResource? {
        let answer = await ask(within: timeout) { id in .vouch(Vouch(requestID: id, url: url)) }
        guard case .vouched(let vouched) = answer, vouched.url == url else { return nil }
        return VouchedResource(digest: vouched.digest, size: Int(exactly: vouched.size))
    }

    /// `peers` without this peer (the server may name it among holders).
    private func others(_ peers: [PeerID]) -> [PeerID] {
        let me = server.welcome?.peer
        return peers.filter { $0 != me }
    }

    /// Asks once the server has welcomed this peer (a question asked before would get no
    /// answer at all), all within `timeout`.
    private func ask(within timeout: Duration, _ make: (UInt32) -> ServerMessage) async -> ServerMessage? {
        let end = ContinuousClock.now + timeout
        guard await server.joined(within: timeout) else { return nil }
        let left = end - .now
        guard left > .zero else { return nil }
        return await requests.ask(timeout: left, send: { server.send($0) }, make)
    }

    /// Tells the server this peer now holds `holding`.
    func announce(_ holding: Holding) { server.send(.have(Have(holdings: [holding]))) }

    /// Delivers an answer (`holders`, `vouched`, or an `error` naming a request); false
    /// when it answers nothing this side asked.
    @discardableResult
    func answer(_ message: ServerMessage) -> Bool { requests.answer(message) }

    /// Ends every wait: the connection to the server is gone.
    func failAll() { requests.failAll() }
}

/// A `who-has` by URL answered: the digest most holders announced under the URL, and
/// holders of it.
struct URLHolders: Sendable, Equatable {
    var digest: ResourceDigest?
    var peers: [PeerID]
}
