import FugitiveStore
import FugitiveWire
import Synchronization

@testable import FugitivePeer

/// An in-memory swarm for the pipeline's unit tests only: peers are scripted behaviours,
/// not links. End-to-end tests use real peers over real WebRTC.
final class InMemorySwarm: PeerSwarm, ServerDirectory {
    enum Behaviour: Sendable {
        /// Answers after `delay` with these bytes.
        case serves([UInt8], delay: Duration = .zero, contentType: String = "text/plain")
        case misses
        /// Sends a head, then bytes that do not match the digest.
        case lies
        /// Sends a head, then nothing.
        case stalls
    }

    struct Log: Sendable {
        var asked: [PeerID] = []
        var cancelled: [PeerID] = []
        var lostRace: [PeerID] = []
        var outcomes: [PeerID: PeerOutcome] = [:]
        var announced: [Holding] = []
        var whoHas = 0
        var whoHasByURL = 0
        var linkRequests: [[PeerID]] = []
        /// The size each download was told to hold the head to.
        var expectedSizes: [Int?] = []
    }

    let peers: Mutex<[PeerID: Behaviour]>
    let linked: Mutex<[PeerID]>
    let holders: [PeerID]
    let vouches: [String: ResourceDigest]
    /// The size the server vouches with, by URL (none: the vouch names no size).
    let vouchedSizes: [String: Int]
    /// What the server answers a `who-has` by URL: what peers announced under each URL.
    let announced: [String: URLHolders]
    let log = Mutex(Log())

    init(
        peers: [PeerID: Behaviour], linked: [PeerID], holders: [PeerID] = [], vouches: [String: ResourceDigest] = [:],
        vouchedSizes: [String: Int] = [:], announced: [String: URLHolders] = [:]
    ) {
        self.vouchedSizes = vouchedSizes
        self.peers = Mutex(peers)
        self.linked = Mutex(linked)
        self.holders = holders
        self.vouches = vouches
        self.announced = announced
    }

    func holders(of digest: ResourceDigest, timeout: Duration) async -> [PeerID] {
        log.withLock { $0.whoHas += 1 }
        return holders
    }

    func holders(announcedFor url: String, timeout: Duration) async -> URLHolders {
        log.withLock { $0.whoHasByURL += 1 }
        return announced[url] ?? URLHolders(digest: nil, peers: [])
    }

    func vouch(_ url: String, timeout: Duration) async -> VouchedResource? {
        vouches[url].map { VouchedResource(digest: $0, size: vouchedSizes[url]) }
    }

    func linkedPeers() -> [PeerID] { linked.withLock { $0 } }

    func download(
        _ digest: ResourceDigest, url: String, from peer: PeerID, limits: TransferLimits, progress: FetchProgress.Reporter?,
        claim: @escaping @Sendable (ResponseHead) -> Bool
    ) async throws(PeerLinkError) -> PeerDownload {
        let stallTimeout = limits.stallTimeout
        log.withLock {
            $0.asked.append(peer)
            $0.expectedSizes.append(limits.expectedSize)
        }
        let behaviour = peers.withLock { $0[peer] } ?? .misses
        let head = ResponseHead(id: 1, transferLength: 1, contentLength: 1, encoding: .identity, chunkSize: 1)
        do {
            switch behaviour {
            case .misses:
                throw PeerLinkError(.miss, "miss")
            case .serves(let bytes, let delay, let contentType):
                try? await Task.sleep(for: delay)
                try checkCancelled(peer)
                guard claim(head) else { throw lost(peer) }
                return PeerDownload(bytes: bytes, contentType: contentType, transferredBytes: bytes.count)
            case .lies:
                guard claim(head) else { throw lost(peer) }
                throw PeerLinkError(.corrupted, "the bytes do not hash to \(digest)")
            case .stalls:
                guard claim(head) else { throw lost(peer) }
                try? await Task.sleep(for: stallTimeout)
                try checkCancelled(peer)
                throw PeerLinkError(.stalled, "nothing arrived for \(stallTimeout)")
            }
        } catch let error as PeerLinkError {
            throw error
        } catch {
            fatalError("unexpected \(error)")
        }
    }

    private func lost(_ peer: PeerID) -> PeerLinkError {
        log.withLock { $0.lostRace.append(peer) }
        return PeerLinkError(.lostRace, "lost")
    }

    private func checkCancelled(_ peer: PeerID) throws(PeerLinkError) {
        if Task.isCancelled {
            log.withLock { $0.cancelled.append(peer) }
            throw PeerLinkError(.cancelled, "cancelled")
        }
    }

    func link(toOneOf holders: [PeerID], holding digest: ResourceDigest, timeout: Duration) async -> PeerID? {
        log.withLock { $0.linkRequests.append(holders) }
        guard let first = holders.first else { return nil }
        linked.withLock { $0.append(first) }
        return first
    }

    func isLiar(_ peer: PeerID, for digest: ResourceDigest) -> Bool { log.withLock { $0.outcomes[peer] == .corrupted } }

    func isBenched(_ peer: PeerID) -> Bool { log.withLock { $0.outcomes[peer] == .tooSlow } }

    func record(_ outcome: PeerOutcome, peer: PeerID, digest: ResourceDigest) { log.withLock { $0.outcomes[peer] = outcome } }

    func announce(_ holding: Holding) { log.withLock { $0.announced.append(holding) } }

    func noteWanted(_ digest: ResourceDigest) {}
}

/// An in-memory origin for the pipeline's unit tests: counts requests, can be slow or dead.
final class InMemoryOrigin: OriginFetching {
    struct Log: Sendable {
        var heads = 0
        var gets = 0
        var cancelled = 0
    }

    let resources: [String: OriginResponse]
    let delay: Duration
    let sendsReprDigest: Bool
    let log = Mutex(Log())

    init(_ resources: [String: [UInt8]], contentType: String = "text/plain", sendsReprDigest: Bool = true, delay: Duration = .zero) {
        self.resources = resources.mapValues { OriginResponse(bytes: $0, reprDigest: ResourceDigest.sha256(of: $0), contentType: contentType) }
        self.sendsReprDigest = sendsReprDigest
        self.delay = delay
    }

    func head(_ url: String, timeout: Duration, policy: DestinationPolicy) async throws(FetchError) -> OriginResponse {
        log.withLock { $0.heads += 1 }
        guard var response = resources[url] else { throw FetchError(.originStatus, "404") }
        response.contentLength = response.bytes.count
        response.bytes = []
        if !sendsReprDigest { response.reprDigest = nil }
        return response
    }

    func get(
        _ url: String, timeout: Duration, maxSize: Int, policy: DestinationPolicy, progress: FetchProgress.Reporter?
    ) async throws(FetchError) -> OriginResponse {
        log.withLock { $0.gets += 1 }
        try? await Task.sleep(for: min(delay, timeout))
        if delay > timeout { throw FetchError(.deadlineExceeded, "no answer within \(timeout)") }
        if Task.isCancelled {
            log.withLock { $0.cancelled += 1 }
            throw FetchError(.cancelled, "cancelled")
        }
        guard var response = resources[url] else { throw FetchError(.originStatus, "404") }
        if !sendsReprDigest { response.reprDigest = nil }
        return response
    }
}
