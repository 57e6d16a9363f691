import Foundation
import AsyncHTTPClient
import Crypto
import FugitiveWire
import Logging
import NIOCore

/// Server-assisted integrity: the SHA-256 of a resource, obtained by fetching it once
/// from its origin and cached as long as the origin's caching headers allow. Concurrent
/// requests for one URL share a single fetch. Only origins the ``OriginPolicy`` allows
/// are fetched, and redirects are never followed (a redirect could leave the allowlist).
/// Origin fetches are bounded per peer and in total (``VouchLimits``), failures and
/// uncacheable answers are remembered briefly, a plain-HTTP fetch connects to the address
/// the policy checked, and the whole fetch has one deadline.
public actor DigestVoucher: DigestVouching {

    struct Entry {
        let vouched: VouchedDigest
        let expires: ContinuousClock.Instant
    }

    let policy: OriginPolicy
    let configuration: VouchConfiguration
    let client: HTTPClient
    let logger: Logger
    /// The cluster's digest registry: what another instance vouched for is not fetched again.
    let registry: (any ClusterStore)?
    var cache: [String: Entry] = [:]
    var inFlight: [String: Task<(VouchedDigest, Duration), any Error>] = [:]
    /// Recent failures, answered again without a fetch until they expire.
    var failures: [String: Failure] = [:]
    var limits: VouchLimits

    struct Failure {
        let error: WireError
        let expires: ContinuousClock.Instant
    }
    /// Origin fetches made, for tests and statistics: the cache's effect is observable.
    public private(set) var fetches = 0
    static let maxCacheEntries = 10_000

    public init(configuration: VouchConfiguration, registry: (any ClusterStore)? = nil, logger: Logger) {
        self.configuration = configuration
        self.registry = registry
        self.policy = OriginPolicy(configuration)
        self.limits = VouchLimits(configuration: configuration, now: .now)
        self.logger = logger
        var http = HTTPClient.Configuration(redirectConfiguration: .disallow)
        http.timeout = .init(connect: .seconds(5), read: .init(configuration.timeout))
        self.client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: http, backgroundActivityLogger: logger)
    }

    /// Stops the HTTP client. Call once when the server stops.
    public func shutdown() async {
        try? await client.shutdown()
    }

    /// The digest and size of the resource at `url`, from cache or by fetching it, for
    /// `requester` (whose share of origin fetches is bounded, see ``VouchLimits``).
    /// Throws `origin-not-allowed`, `origin-failed` or `rate-limited`.
    public func vouch(for url: String, requester: PeerID? = nil) async throws(WireError) -> VouchedDigest {
        let now = ContinuousClock.now
        if let entry = cache[url], entry.expires > now { return entry.vouched }
        if let failure = failures[url], failure.expires > now { throw failure.error }
        do throws(WireError) {
            return try await resolve(url, requester: requester, now: now)
        } catch {
            // Failures are remembered briefly: asking again for a dead or refused URL does
            // not make the server fetch again.
            if error.code != .rateLimited {
                if failures.count >= Self.maxCacheEntries { failures = failures.filter { $0.value.expires > now } }
                if failures.count < Self.maxCacheEntries { failures[url] = Failure(error: error, expires: now + configuration.failureTTL) }
            }
            throw error
        }
    }

    private func resolve(_ url: String, requester: PeerID?, now: ContinuousClock.Instant) async throws(WireError) -> VouchedDigest {
        let addresses = try await policy.check(url)
        if let registered = try? await registry?.registeredDigest(for: url) {
            let ttl = Duration.seconds(registered.expiresAt - Date().timeIntervalSince1970)
            let vouched = VouchedDigest(
                digest: registered.digest, size: registered.size, pieceRoot: registered.pieceRoot, pieceSize: registered.pieceSize)
            if ttl > .zero, cache.count < Self.maxCacheEntries { cache[url] = Entry(vouched: vouched, expires: now + ttl) }
            return vouched
        }
        let task: Task<(VouchedDigest, Duration), any Error>
        if let running = inFlight[url] {
            task = running
        } else {
            try limits.admit(requester, now: now)
            fetches += 1
            let (client, configuration, logger) = (client, configuration, logger)
            task = Task {
                try await Self.fetch(url, pinnedTo: addresses.first, client: client, configuration: configuration, logger: logger)
            }
            inFlight[url] = task
            let limitsRequester = requester
            defer { limits.finish(limitsRequester) }
            return try await finish(url, task: task, now: now)
        }
        return try await finish(url, task: task, now: now)
    }

    private func finish(_ url: String, task: Task<(VouchedDigest, Duration), any Error>, now: ContinuousClock.Instant) async throws(WireError)
        -> VouchedDigest
    {
        defer { inFlight[url] = nil }
        do {
            let (vouched, ttl) = try await task.value
            if ttl > .zero, let registry {
                let expiresAt = Date().timeIntervalSince1970 + Double(ttl.components.seconds)
                do {
                    let registered = RegisteredDigest(
                        digest: vouched.digest, size: vouched.size, expiresAt: expiresAt, pieceRoot: vouched.pieceRoot, pieceSize: vouched.pieceSize)
                    try await registry.register(registered, for: url)
                } catch {
                    logger.warning("cluster: could not register a vouched digest", metadata: ["error": "\(error)"])
                }
            }
            // Even `no-store` is kept a moment here (not in the cluster's registry): a burst
            // of vouches for it costs one fetch, not one each.
            let kept = max(ttl, configuration.minimumTTL)
            if kept > .zero {
                if cache.count >= Self.maxCacheEntries { cache = cache.filter { $0.value.expires > now } }
                if cache.count < Self.maxCacheEntries { cache[url] = Entry(vouched: vouched, expires: now + kept) }
            }
            return vouched
        } catch let error as WireError {
            throw error
        } catch {
            throw WireError(.originFailed, "fetching \(url.prefix(200)) failed: \(error)")
        }
    }

    /// Fetches and hashes `url`; the whole of it — connection, head and body — within the
    /// configured timeout (a dripping origin cannot hold a vouch longer).
    static func fetch(
        _ url: String, pinnedTo address: [UInt8]?, client: HTTPClient, configuration: VouchConfiguration, logger: Logger
    ) async throws -> (VouchedDigest, Duration) {
        let timeout = configuration.timeout
        return try await withThrowingTaskGroup(of: (VouchedDigest, Duration)?.self) { group in
            group.addTask { try await download(url, pinnedTo: address, client: client, configuration: configuration, logger: logger) }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let result = first else {
                throw WireError(.originFailed, "the origin did not deliver \(url.prefix(200)) within \(configuration.timeout.seconds) s")
            }
            return result
        }
    }

    /// The piece size of the piece trees this server vouches with: 1 MiB (64 leaves).
    public static let pieceSize = 1 << 20

    static func download(
        _ url: String, pinnedTo address: [UInt8]?, client: HTTPClient, configuration: VouchConfiguration, logger: Logger
    ) async throws -> (VouchedDigest, Duration) {
        var request = HTTPClientRequest(url: url)
        if let address, let pinned = PublicAddress.pinned(url, to: address) {
            request = HTTPClientRequest(url: pinned.url)
            request.headers.replaceOrAdd(name: "Host", value: pinned.host)
        }
        request.method = .GET
        let response = try await client.execute(request, timeout: .init(configuration.timeout), logger: logger)
        guard response.status == .ok else {
            throw WireError(.originFailed, "origin answered \(response.status.code) for \(url.prefix(200))")
        }
        var hasher = SHA256()
        var tree = PieceTree.Builder(pieceSize: pieceSize)
        var size = 0
        for try await part in response.body {
            size += part.readableBytes
            guard size <= configuration.maxBytes else {
                throw WireError(.originFailed, "resource exceeds the vouching limit of \(configuration.maxBytes) bytes")
            }
            part.withUnsafeReadableBytes {
                hasher.update(bufferPointer: $0)
                tree.append($0)
            }
        }
        let digest = ResourceDigest(bytes: Array(hasher.finalize()))!
        let ttl = cacheLifetime(cacheControl: response.headers["cache-control"], default: configuration.defaultTTL)
        logger.debug("vouched", metadata: ["url": "\(url)", "digest": "\(digest)", "size": "\(size)", "ttl": "\(ttl)"])
        return (VouchedDigest(digest: digest, size: UInt64(size), pieceRoot: tree.finish().root, pieceSize: pieceSize), ttl)
    }

    /// How long a response may be reused per its `Cache-Control` header values:
    /// `no-store`/`no-cache`/`private` → not at all, `s-maxage` over `max-age`, else `fallback`.
    static func cacheLifetime(cacheControl values: [String], default fallback: Duration) -> Duration {
        var maxAge: Int?
        var sharedMaxAge: Int?
        for directive in values.flatMap({ $0.split(separator: ",") }) {
            let parts = directive.split(separator: "=", maxSplits: 1).map { $0.trimmed(of: " \t\"").lowercased() }
            guard let name = parts.first else { continue }
            let value = parts.count > 1 ? Int(parts[1]) : nil
            switch name {
            case "no-store", "no-cache", "private": return .zero
            case "max-age": maxAge = value
            case "s-maxage": sharedMaxAge = value
            default: continue
            }
        }
        if let seconds = sharedMaxAge ?? maxAge { return .seconds(max(0, seconds)) }
        return fallback
    }
}
