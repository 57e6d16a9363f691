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
public actor DigestVoucher {
    /// What the server vouches for.
    public struct Vouched: Sendable, Equatable {
        public let digest: ResourceDigest
        public let size: UInt64
    }

    struct Entry {
        let vouched: Vouched
        let expires: ContinuousClock.Instant
    }

    let policy: OriginPolicy
    let configuration: VouchConfiguration
    let client: HTTPClient
    let logger: Logger
    /// The cluster's digest registry: what another instance vouched for is not fetched again.
    let registry: (any ClusterStore)?
    var cache: [String: Entry] = [:]
    var inFlight: [String: Task<(Vouched, Duration), any Error>] = [:]
    /// Origin fetches made, for tests and statistics: the cache's effect is observable.
    public private(set) var fetches = 0
    static let maxCacheEntries = 10_000

    public init(configuration: VouchConfiguration, registry: (any ClusterStore)? = nil, logger: Logger) {
        self.configuration = configuration
        self.registry = registry
        self.policy = OriginPolicy(configuration)
        self.logger = logger
        var http = HTTPClient.Configuration(redirectConfiguration: .disallow)
        http.timeout = .init(connect: .seconds(5), read: .seconds(Int64(configuration.timeout)))
        self.client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: http, backgroundActivityLogger: logger)
    }

    /// Stops the HTTP client. Call once when the server stops.
    public func shutdown() async {
        try? await client.shutdown()
    }

    /// The digest and size of the resource at `url`, from cache or by fetching it.
    /// Throws `origin-not-allowed` or `origin-failed`.
    public func vouch(for url: String) async throws(WireError) -> Vouched {
        let now = ContinuousClock.now
        if let entry = cache[url], entry.expires > now { return entry.vouched }
        try await policy.check(url)
        if let registered = try? await registry?.registeredDigest(for: url) {
            let ttl = Duration.seconds(registered.expiresAt - Date().timeIntervalSince1970)
            let vouched = Vouched(digest: registered.digest, size: registered.size)
            if ttl > .zero, cache.count < Self.maxCacheEntries { cache[url] = Entry(vouched: vouched, expires: now + ttl) }
            return vouched
        }
        let task: Task<(Vouched, Duration), any Error>
        if let running = inFlight[url] {
            task = running
        } else {
            fetches += 1
            let (client, configuration, logger) = (client, configuration, logger)
            task = Task { try await Self.fetch(url, client: client, configuration: configuration, logger: logger) }
            inFlight[url] = task
        }
        defer { inFlight[url] = nil }
        do {
            let (vouched, ttl) = try await task.value
            if ttl > .zero, let registry {
                let expiresAt = Date().timeIntervalSince1970 + Double(ttl.components.seconds)
                do {
                    try await registry.register(RegisteredDigest(digest: vouched.digest, size: vouched.size, expiresAt: expiresAt), for: url)
                } catch {
                    logger.warning("cluster: could not register a vouched digest", metadata: ["error": "\(error)"])
                }
            }
            if ttl > .zero {
                if cache.count >= Self.maxCacheEntries { cache = cache.filter { $0.value.expires > now } }
                if cache.count < Self.maxCacheEntries { cache[url] = Entry(vouched: vouched, expires: now + ttl) }
            }
            return vouched
        } catch let error as WireError {
            throw error
        } catch {
            throw WireError(.originFailed, "fetching \(url.prefix(200)) failed: \(error)")
        }
    }

    static func fetch(_ url: String, client: HTTPClient, configuration: VouchConfiguration, logger: Logger) async throws -> (Vouched, Duration) {
        var request = HTTPClientRequest(url: url)
        request.method = .GET
        let response = try await client.execute(request, timeout: .seconds(Int64(configuration.timeout)), logger: logger)
        guard response.status == .ok else {
            throw WireError(.originFailed, "origin answered \(response.status.code) for \(url.prefix(200))")
        }
        var hasher = SHA256()
        var size = 0
        for try await part in response.body {
            size += part.readableBytes
            guard size <= configuration.maxBytes else {
                throw WireError(.originFailed, "resource exceeds the vouching limit of \(configuration.maxBytes) bytes")
            }
            part.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) }
        }
        let digest = ResourceDigest(bytes: Array(hasher.finalize()))!
        let ttl = cacheLifetime(cacheControl: response.headers["cache-control"], default: .seconds(configuration.defaultTTL))
        logger.debug("vouched", metadata: ["url": "\(url)", "digest": "\(digest)", "size": "\(size)", "ttl": "\(ttl)"])
        return (Vouched(digest: digest, size: UInt64(size)), ttl)
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

extension StringProtocol {
    /// The string without leading and trailing characters from `set`.
    func trimmed(of set: String) -> Substring {
        let s = Substring(self)
        guard let first = s.firstIndex(where: { !set.contains($0) }) else { return "" }
        let last = s.lastIndex(where: { !set.contains($0) })!
        return s[first...last]
    }
}
