import Foundation
import FugitiveStore
import FugitiveWire
import Logging
import Synchronization

/// The fetch path: memory → disk → peers → origin. Bytes from peers are accepted only
/// against a trusted SHA-256 (the caller's, the origin's `Repr-Digest`, or the server's
/// vouch); without one the peer phase is skipped. The peer phase is bounded by its own
/// deadline, the whole fetch by the caller's; task cancellation cancels everything
/// under way.
final class FetchPipeline: Sendable {
    struct Configuration: Sendable {
        /// The whole fetch, when the caller gives no deadline.
        var defaultDeadline: Duration = .seconds(30)
        /// Asking peers (until a transfer has begun) before going to the origin.
        var peerPhase: Duration = .seconds(3)
        /// A peer transfer with no progress for this long is abandoned.
        var stallTimeout: Duration = .seconds(5)
        /// `who-has` and `vouch` answers.
        var serverTimeout: Duration = .seconds(2)
        /// The origin HEAD that looks for a `Repr-Digest`.
        var headTimeout: Duration = .seconds(5)
        /// How long a tier-2 link (to a holder not linked yet) may take to open.
        var tier2Timeout: Duration = .seconds(5)
        /// How long a stored copy without `max-age` is used without revalidation.
        var defaultFreshness: Double = 300
        /// Time kept back for the origin: peer transfers end this long before the
        /// deadline (at most a third of the fetch's time).
        var originReserve: Duration = .seconds(10)
        /// The largest resource fetched.
        var maxResourceSize: Int = 256 << 20
    }

    let configuration: Configuration
    let store: ResourceStore
    let swarm: any PeerSwarm
    let directory: any ServerDirectory
    let origin: any OriginFetching
    let logger: Logger
    let emit: @Sendable (PeerEvent) -> Void
    let counters = Mutex(FetchStatistics())

    init(
        configuration: Configuration, store: ResourceStore, swarm: any PeerSwarm, directory: any ServerDirectory, origin: any OriginFetching,
        logger: Logger, emit: @escaping @Sendable (PeerEvent) -> Void
    ) {
        self.configuration = configuration
        self.store = store
        self.swarm = swarm
        self.directory = directory
        self.origin = origin
        self.logger = logger
        self.emit = emit
    }

    func fetch(
        _ url: String, digest given: ResourceDigest?, deadline: Duration?, destinations: DestinationPolicy = .any,
        progress: FetchProgress.Reporter? = nil
    ) async throws(FetchError) -> Resource {
        let started = ContinuousClock.now
        let allowed = deadline ?? configuration.defaultDeadline
        let deadline = started + allowed
        let peersDeadline = deadline - min(configuration.originReserve, allowed / 3)
        var timings = FetchTimings()
        func done(_ bytes: [UInt8], _ digest: ResourceDigest, _ contentType: String?, _ source: ResourceSource) -> Resource {
            timings.total = .now - started
            let resource = Resource(url: url, bytes: bytes, digest: digest, contentType: contentType, source: source, timings: timings)
            count(resource)
            return resource
        }
        try checkCancellation(url)

        // 1. The store, by digest when it is known, else by URL while the copy is fresh.
        let known = try? store.resource(for: url)
        if let given, let hit = try? store.bytes(for: given) {
            return done(hit.bytes, given, known?.digest == given ? known?.metadata.contentType : nil, hit.tier.source)
        }
        if given == nil, let known, isFresh(known.metadata), let hit = try? store.bytes(for: known.digest) {
            return done(hit.bytes, known.digest, known.metadata.contentType, hit.tier.source)
        }

        // 2. A trusted digest: the caller's, the origin's Repr-Digest, the server's vouch.
        // Meanwhile the server is asked who holds what peers announced under the URL, so
        // that the peer phase need not ask again when the digests agree.
        var trusted = given
        // The size every peer's `head` is held to (3003), when a trusted source named it.
        var trustedSize: Int?
        var head: OriginResponse?
        let announced = given == nil ? askWhoHolds(url, until: peersDeadline) : nil
        defer { announced?.cancel() }
        if trusted == nil {
            let phase = ContinuousClock.now
            // Bounded like the peer phase: a server that has not welcomed this peer yet must
            // not take the time the origin needs.
            let trust = await trustedDigest(for: url, until: peersDeadline, destinations: destinations)
            (trusted, trustedSize, head) = (trust.digest, trust.size, trust.head)
            timings.digest = .now - phase
            try checkCancellation(url)
        }
        if let trusted, given == nil, let hit = try? store.bytes(for: trusted) {
            // Still the same bytes (revalidated), or the same bytes under another URL.
            let metadata =
                head?.metadata(url: url, storedAt: Date().timeIntervalSince1970)
                ?? known.map { ResourceMetadata(url: url, contentType: $0.metadata.contentType, storedAt: Date().timeIntervalSince1970) }
            if let metadata { _ = try? store.store(hit.bytes, expected: trusted, metadata: metadata) }
            return done(hit.bytes, trusted, metadata?.contentType, hit.tier.source)
        }

        // 3. Peers, against the trusted digest only.
        if let trusted {
            let phase = ContinuousClock.now
            let byURL = await announced?.value
            let found = await peerPhase(
                url, digest: trusted, knownHolders: byURL?.digest == trusted ? byURL?.peers : nil,
                size: trustedSize,
                until: min(peersDeadline, phase + configuration.peerPhase),
                deadline: peersDeadline, progress: progress)
            timings.peers = .now - phase
            try checkCancellation(url)
            if let (peer, download) = found {
                let metadata = ResourceMetadata(
                    url: url, contentType: head?.contentType ?? PeerContentType.accepted(download.contentType), etag: head?.etag,
                    lastModified: head?.lastModified,
                    maxAge: head?.maxAge, storedAt: Date().timeIntervalSince1970)
                keep(download.bytes, digest: trusted, metadata: metadata, url: url)
                return done(download.bytes, trusted, metadata.contentType, .peer(peer))
            }
        }

        // 4. The origin.
        let phase = ContinuousClock.now
        let remaining = deadline - phase
        guard remaining > .zero else { throw FetchError(.deadlineExceeded, "no time left for the origin of \(url)") }
        let response = try await origin.get(url, timeout: remaining, maxSize: configuration.maxResourceSize, policy: destinations, progress: progress)
        timings.origin = .now - phase
        let digest = ResourceDigest.sha256(of: response.bytes)
        if let expected = trusted ?? response.reprDigest, expected != digest {
            throw FetchError(.digestMismatch, "\(url) from the origin hashes to \(digest), not the trusted \(expected)")
        }
        keep(
            response.bytes, digest: digest, metadata: response.metadata(url: url, storedAt: Date().timeIntervalSince1970), url: url,
            announce: response.shareable)
        return done(response.bytes, digest, response.contentType, .origin)
    }

    /// A `who-has` by URL under way, answered within the server timeout and before the
    /// peer phase's end.
    private func askWhoHolds(_ url: String, until end: ContinuousClock.Instant) -> Task<URLHolders, Never>? {
        let timeout = min(configuration.serverTimeout, end - .now)
        guard timeout > .zero else { return nil }
        return Task { [directory] in await directory.holders(announcedFor: url, timeout: timeout) }
    }

    /// A trusted digest, the size that came with it (the HEAD's `Content-Length`, the
    /// vouched `n`), and the HEAD's answer when there was one.
    private struct Trust {
        var digest: ResourceDigest?
        var size: Int?
        var head: OriginResponse?
    }

    /// HEAD for a `Repr-Digest` first (it also brings the caching headers), else the
    /// server's vouch.
    private func trustedDigest(
        for url: String, until deadline: ContinuousClock.Instant, destinations: DestinationPolicy
    ) async -> Trust {
        let headTimeout = min(configuration.headTimeout, deadline - .now)
        var head: OriginResponse?
        if headTimeout > .zero {
            do { head = try await origin.head(url, timeout: headTimeout, policy: destinations) } catch {
                logger.debug("HEAD failed; asking the server to vouch", metadata: ["url": "\(url)", "error": "\(error)"])
            }
        }
        if let digest = head?.reprDigest { return Trust(digest: digest, size: head?.contentLength, head: head) }
        let vouchTimeout = min(configuration.serverTimeout, deadline - .now)
        guard vouchTimeout > .zero, !Task.isCancelled else { return Trust(head: head) }
        let vouched = await directory.vouch(url, timeout: vouchTimeout)
        return Trust(digest: vouched?.digest, size: vouched?.size, head: head)
    }

    /// Stores what was fetched and, when `announce` (the origin's answer was public, see
    /// ``OriginResponse/shareable``), tells the server this peer holds it.
    private func keep(_ bytes: [UInt8], digest: ResourceDigest, metadata: ResourceMetadata, url: String, announce: Bool = true) {
        do {
            try store.store(bytes, expected: digest, metadata: metadata)
            if announce { directory.announce(Holding(digest: digest, url: url, size: UInt64(bytes.count))) }
        } catch  where error.code == .tooLarge {
            // Not on disk, so not announced: others would ask and get `miss`.
            logger.info("a fetched resource is larger than the store; not kept or announced", metadata: ["url": "\(url)", "bytes": "\(bytes.count)"])
        } catch {
            logger.warning("could not store a fetched resource", metadata: ["url": "\(url)", "error": "\(error)"])
        }
    }

    private func isFresh(_ metadata: ResourceMetadata) -> Bool {
        let age = Date().timeIntervalSince1970 - metadata.storedAt
        return age < metadata.maxAge.map(Double.init) ?? configuration.defaultFreshness
    }

    private func checkCancellation(_ url: String) throws(FetchError) {
        if Task.isCancelled { throw FetchError(.cancelled, "the fetch of \(url) was cancelled") }
    }

    private func count(_ resource: Resource) {
        counters.withLock { counters in
            counters.fetches += 1
            switch resource.source {
            case .memory, .disk: counters.bytesFromStore += resource.bytes.count
            case .peer: counters.bytesFromPeers += resource.bytes.count
            case .origin: counters.bytesFromOrigin += resource.bytes.count
            }
            counters.fetchesBySource[resource.source.kind, default: 0] += 1
        }
        emit(.fetched(url: resource.url, source: resource.source, bytes: resource.bytes.count, duration: resource.timings.total))
    }
}

extension StoreTier {
    var source: ResourceSource { self == .memory ? .memory : .disk }
}
