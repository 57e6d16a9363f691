import FugitiveRTC
import FugitiveStore
import FugitiveWire
import Logging
import ServiceLifecycle
import Synchronization

/// A native Fugitive peer: joins a swarm through the orchestrator, keeps WebRTC links to
/// a few good peers, answers ``fetch(_:digest:deadline:)`` from its store, then its
/// peers, then the origin, and serves what it holds to others.
///
/// A `Service`: ``run()`` keeps the server link and the links up until it is cancelled
/// or the service group shuts down; fetches work meanwhile (and before, from the store
/// and the origin).
public final class Peer: Service, Sendable {
    public let configuration: Configuration
    /// The peer's store (memory LRU over SQLite).
    public let store: ResourceStore
    /// What happens, as it happens (newest 4096 kept when nobody reads).
    public let events: AsyncStream<PeerEvent>
    let eventSink: AsyncStream<PeerEvent>.Continuation
    let serverLink: ServerLink
    let links: LinkManager
    let pipeline: FetchPipeline
    let loop: GLibEventLoop
    let logger: Logger
    private let counters = Counters()

    final class Counters: Sendable {
        let value = Mutex(PeerStatistics())
    }

    /// - Parameters:
    ///   - origin: how origins are fetched (``HTTPOrigin`` by default).
    ///   - corruptsUploadsForTesting: makes this peer a liar (flips a byte per chunk).
    public init(
        configuration: Configuration, origin: any OriginFetching = HTTPOrigin(), logger: Logger, uploadFaultForTesting: UploadFault = .none
    ) throws(StoreError) {
        self.configuration = configuration
        self.logger = logger
        let store = try ResourceStore(configuration: configuration.store, logger: logger)
        self.store = store
        let (events, eventSink) = AsyncStream.makeStream(of: PeerEvent.self, bufferingPolicy: .bufferingNewest(4096))
        (self.events, self.eventSink) = (events, eventSink)
        serverLink = ServerLink(
            configuration: .init(
                servers: configuration.servers, swarm: configuration.swarm, targetPeers: configuration.targetLinks, maxPeers: configuration.maxLinks,
                backoffBase: configuration.backoffBase, backoffCap: configuration.backoffCap, joinToken: configuration.joinToken),
            holdings: { ((try? store.heldBlobs()) ?? []).map { Holding(digest: $0.digest, url: $0.url, size: $0.size) } }, logger: logger)
        loop = GLibEventLoop(name: "fugitive-peer-ice")
        let counters = self.counters
        let emit: @Sendable (PeerEvent) -> Void = { event in
            counters.value.withLock { Self.count(event, into: &$0) }
            eventSink.yield(event)
        }
        let peerLink = PeerLink.Configuration(
            maxResourceSize: configuration.maxResourceSize, uploadLimit: configuration.uploadBytesPerSecond.map { TokenBucket(bytesPerSecond: $0) },
            downloadLimit: configuration.downloadBytesPerSecond.map { TokenBucket(bytesPerSecond: $0) },
            downloadBudget: DownloadBudget(bytes: configuration.downloadMemory), minimumRate: configuration.minimumPeerRate)
        let queries = ServerQueries(server: serverLink)
        links = LinkManager(
            configuration: .init(
                targetLinks: configuration.targetLinks, maxLinks: configuration.maxLinks, connectTimeout: configuration.connectTimeout,
                maintenanceInterval: configuration.maintenanceInterval, wantInterval: .seconds(2), rttInterval: configuration.rttInterval,
                maxFailures: 3, slowFactor: 4,
                connection: PeerConnection.Configuration(portRange: configuration.portRange, localAddresses: configuration.localAddresses),
                peerLink: peerLink),
            queries: queries, store: store, slots: UploadSlots(total: configuration.uploadSlots, perLink: configuration.uploadSlotsPerPeer),
            loop: loop, logger: logger, uploadFault: uploadFaultForTesting, emit: emit)
        pipeline = FetchPipeline(
            configuration: .init(
                defaultDeadline: configuration.fetchDeadline, peerPhase: configuration.peerPhase, stallTimeout: configuration.stallTimeout,
                originReserve: configuration.originReserve, maxResourceSize: configuration.maxResourceSize),
            store: store, swarm: links, directory: queries, origin: origin, logger: logger, emit: emit)
        let serverLink = self.serverLink
        // Evicted from disk: the server should stop sending peers here for it.
        store.onEviction { digests in
            stride(from: 0, to: digests.count, by: 256).forEach { start in
                serverLink.send(.drop(Drop(digests: Array(digests[start..<min(digests.count, start + 256)]))))
            }
        }
    }

    /// Runs the server link and the link manager until cancelled or shut down.
    public func run() async throws {
        let (serverLink, links) = (self.serverLink, self.links)
        try? await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { try? await serverLink.run() }
                group.addTask { await links.run() }
                group.addTask { await self.reportDeliveries() }
                await group.next()
                group.cancelAll()
            }
        }
        links.closeAll()
        do { try store.checkpoint() } catch { logger.warning("the store could not be checkpointed", metadata: ["error": "\(error)"]) }
        eventSink.finish()
    }

    /// Tells the server what fetches and uploads added up to, whenever that changed
    /// (for its statistics and dashboard), about once a second.
    private func reportDeliveries() async {
        var last: DeliveryReport?
        var lastSession: PeerID?
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(1))
            let statistics = self.statistics
            let report = DeliveryReport(
                fromOrigin: UInt64(statistics.bytesFromOrigin), fromPeers: UInt64(statistics.bytesFromPeers), served: UInt64(statistics.bytesServed),
                servedRelayed: UInt64(statistics.bytesServedRelayed))
            // Sent again after a reconnection too: a new session starts from nothing.
            let session = serverLink.welcome?.peer
            if report != last || session != lastSession, serverLink.send(.report(report)) {
                (last, lastSession) = (report, session)
            }
        }
    }

    /// The resource at `url`: from the store, else from peers (against a trusted digest),
    /// else from the origin. Bytes from peers are verified; a lying or stalling peer
    /// costs a fallback, never a wrong byte.
    ///
    /// - Parameters:
    ///   - digest: the SHA-256 the bytes must have, if the caller knows it.
    ///   - deadline: how long the whole fetch may take (the configuration's by default).
    /// - Throws: ``FetchError`` when no source delivered in time; cancelling the task
    ///   cancels every request under way and frees the peers serving it.
    public func fetch(_ url: String, digest: ResourceDigest? = nil, deadline: Duration? = nil) async throws(FetchError) -> Resource {
        try await pipeline.fetch(url, digest: digest, deadline: deadline, progress: nil)
    }

    /// ``fetch(_:digest:deadline:)``, calling `progress` as the bytes arrive.
    public func fetch(
        _ url: String, digest: ResourceDigest? = nil, deadline: Duration? = nil, progress: @escaping FetchProgress.Reporter
    ) async throws(FetchError) -> Resource {
        try await pipeline.fetch(url, digest: digest, deadline: deadline, progress: progress)
    }

    /// ``fetch(_:digest:deadline:)`` with the origin (and every redirect hop) limited to
    /// what `destinations` allows, e.g. public addresses only for a gateway that fetches for
    /// web pages; `progress` as in ``fetch(_:digest:deadline:progress:)``.
    public func fetch(
        _ url: String, digest: ResourceDigest? = nil, deadline: Duration? = nil, destinations: DestinationPolicy,
        progress: FetchProgress.Reporter? = nil
    ) async throws(FetchError) -> Resource {
        try await pipeline.fetch(url, digest: digest, deadline: deadline, destinations: destinations, progress: progress)
    }

    /// This peer's id in the current server session.
    public var id: PeerID? { serverLink.welcome?.peer }

    /// Peers with an open link, fastest first.
    public var linkedPeers: [PeerID] { links.linkedPeers() }

    /// Counters since the peer started.
    public var statistics: PeerStatistics {
        var statistics = counters.value.withLock { $0 }
        let fetches = pipeline.counters.withLock { $0 }
        statistics.fetches = fetches.fetches
        statistics.fetchesBySource = fetches.fetchesBySource
        statistics.bytesFromStore = fetches.bytesFromStore
        statistics.bytesFromPeers = fetches.bytesFromPeers
        statistics.bytesFromOrigin = fetches.bytesFromOrigin
        statistics.links = links.linkedPeers().count
        return statistics
    }

    private static func count(_ event: PeerEvent, into statistics: inout PeerStatistics) {
        switch event {
        case .served(_, _, let bytes, let transferred, let relayed):
            statistics.uploads += 1
            statistics.bytesServed += bytes
            if relayed { statistics.bytesServedRelayed += bytes }
            statistics.bytesServedOnTheWire += transferred
        case .penalised(_, let reason) where reason.hasPrefix("sent bytes"):
            statistics.liarsCaught += 1
        default:
            break
        }
    }
}
