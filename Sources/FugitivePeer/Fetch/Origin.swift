import AsyncHTTPClient
import Foundation
import FugitiveStore
import FugitiveWire
import NIOCore
import NIOHTTP1

/// What an origin said about a resource, with or without its bytes.
public struct OriginResponse: Sendable, Hashable {
    /// The body (empty for a HEAD).
    public var bytes: [UInt8]
    /// The origin's own SHA-256 of the representation (`Repr-Digest`), when it sent one.
    public var reprDigest: ResourceDigest?
    public var contentType: String?
    public var etag: String?
    public var lastModified: String?
    /// `Cache-Control: max-age` (0 for `no-cache`/`no-store`).
    public var maxAge: Int?
    /// Whether the swarm may be told this peer holds it: not when it came through a
    /// redirect, from a non-public address, or marked `private` or `no-store`.
    public var shareable = true
    /// `Content-Length`, as the origin sent it (for a HEAD: the size of the body a GET
    /// would bring).
    public var contentLength: Int?

    public init(
        bytes: [UInt8] = [], reprDigest: ResourceDigest? = nil, contentType: String? = nil, etag: String? = nil, lastModified: String? = nil,
        maxAge: Int? = nil
    ) {
        self.bytes = bytes
        self.reprDigest = reprDigest
        self.contentType = contentType
        self.etag = etag
        self.lastModified = lastModified
        self.maxAge = maxAge
    }

    func metadata(url: String, storedAt: Double) -> ResourceMetadata {
        ResourceMetadata(url: url, contentType: contentType, etag: etag, lastModified: lastModified, maxAge: maxAge, storedAt: storedAt)
    }
}

/// The origin as the fetch pipeline sees it; ``HTTPOrigin`` is the real one.
public protocol OriginFetching: Sendable {
    /// The headers of `url` (a HEAD request), for its `Repr-Digest`, going only where
    /// `policy` allows.
    func head(_ url: String, timeout: Duration, policy: DestinationPolicy) async throws(FetchError) -> OriginResponse
    /// The whole resource; more than `maxSize` bytes is `.tooLarge`. `progress` hears of
    /// each buffer as it arrives.
    func get(
        _ url: String, timeout: Duration, maxSize: Int, policy: DestinationPolicy, progress: FetchProgress.Reporter?
    ) async throws(FetchError) -> OriginResponse
}

/// Fetches from origins over HTTP(S) with AsyncHTTPClient. Task cancellation cancels
/// the request. Redirects are followed here (at most the policy's number), each hop
/// checked by the ``DestinationPolicy`` after resolution; a plain-HTTP hop connects to
/// the address that was checked.
public struct HTTPOrigin: OriginFetching {
    let client: HTTPClient

    /// - Parameter client: the client to use (its lifetime is the caller's).
    public init(client: HTTPClient = HTTPOrigin.defaultClient) { self.client = client }

    /// A process-wide client that fails fast: a refused connection is an answer (the
    /// fetch falls back or reports it), not something to retry until the deadline.
    public static let defaultClient: HTTPClient = {
        // Redirects are followed by `execute`, which checks every hop.
        var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow)
        configuration.connectionPool.retryConnectionEstablishment = false
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    public func head(_ url: String, timeout: Duration, policy: DestinationPolicy = .any) async throws(FetchError) -> OriginResponse {
        try await execute(url, method: .HEAD, timeout: timeout, maxSize: 0, policy: policy, progress: nil)
    }

    public func get(
        _ url: String, timeout: Duration, maxSize: Int, policy: DestinationPolicy = .any, progress: FetchProgress.Reporter? = nil
    ) async throws(FetchError) -> OriginResponse {
        try await execute(url, method: .GET, timeout: timeout, maxSize: maxSize, policy: policy, progress: progress)
    }

    private func execute(
        _ url: String, method: HTTPMethod, timeout: Duration, maxSize: Int, policy: DestinationPolicy, progress: FetchProgress.Reporter?
    ) async throws(FetchError) -> OriginResponse {
        let deadline = ContinuousClock.now + timeout
        var current = url
        var retried = false
        for hop in 0...policy.maxRedirects {
            let target = try await policy.check(current)
            let left = deadline - .now
            guard left > .zero else { throw FetchError(.deadlineExceeded, "\(url) did not answer within \(timeout)") }
            let answer: Hop
            do {
                answer = try await request(current, target: target, method: method, timeout: left, maxSize: maxSize, progress: progress)
            } catch let error where error.code == .originUnreachable && !retried && deadline > .now {
                // A pooled connection that died since its last use (the origin closed it
                // idle, a NAT forgot or moved its mapping and the origin answers with a
                // reset) fails the request that reuses it. GET and HEAD are safe to send
                // once more, on a new connection.
                retried = true
                answer = try await request(current, target: target, method: method, timeout: deadline - .now, maxSize: maxSize, progress: progress)
            }
            switch answer {
            case .response(var response):
                response.shareable = response.shareable && hop == 0 && (target.isPublic || policy.announcesPrivateDestinations)
                return response
            case .redirect(let location):
                guard let next = URL(string: location, relativeTo: URL(string: current))?.absoluteString else {
                    throw FetchError(.originStatus, "\(current) redirected to an unusable location")
                }
                current = next
            }
        }
        throw FetchError(.destinationRefused, "\(url) redirected more than \(policy.maxRedirects) times")
    }

    private enum Hop {
        case response(OriginResponse)
        case redirect(String)
    }

    private func request(
        _ url: String, target: DestinationPolicy.Target, method: HTTPMethod, timeout: Duration, maxSize: Int, progress: FetchProgress.Reporter?
    ) async throws(FetchError) -> Hop {
        var request = HTTPClientRequest(url: target.url)
        if let host = target.hostHeader { request.headers.replaceOrAdd(name: "Host", value: host) }
        request.method = method
        // Identity only: the digest covers the representation as stored.
        request.headers.add(name: "Accept-Encoding", value: "identity")
        request.headers.add(name: "Want-Repr-Digest", value: "sha-256=10")
        let amount = TimeAmount.nanoseconds(
            max(1, Int64(timeout.components.seconds) * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000))
        do {
            let response = try await client.execute(request, timeout: amount)
            if [301, 302, 303, 307, 308].contains(response.status.code), let location = response.headers.first(name: "Location") {
                return .redirect(location)
            }
            guard (200..<300).contains(response.status.code) else {
                throw FetchError(.originStatus, "\(url) answered \(response.status.code) \(response.status.reasonPhrase)")
            }
            var result = OriginResponse(
                reprDigest: response.headers.first(name: "Repr-Digest").flatMap(ReprDigest.sha256(fromHeader:)),
                contentType: response.headers.first(name: "Content-Type"), etag: response.headers.first(name: "ETag"),
                lastModified: response.headers.first(name: "Last-Modified"), maxAge: Self.maxAge(response.headers))
            result.shareable = !Self.isPrivate(response.headers)
            result.contentLength = response.headers.first(name: "Content-Length").flatMap(Int.init)
            if method == .GET {
                if let length = result.contentLength, length > maxSize {
                    throw FetchError(.tooLarge, "\(url) is \(length) bytes, over the limit of \(maxSize)")
                }
                let announced = result.contentLength
                var body = ByteBuffer()
                for try await part in response.body {
                    guard body.readableBytes + part.readableBytes <= maxSize else {
                        throw FetchError(.tooLarge, "\(url) is over the limit of \(maxSize) bytes")
                    }
                    body.writeImmutableBuffer(part)
                    progress?(.init(receivedBytes: body.readableBytes, totalBytes: announced, source: "origin"))
                }
                result.bytes = body.readBytes(length: body.readableBytes) ?? []
            }
            return .response(result)
        } catch let error as FetchError {
            throw error
        } catch is CancellationError {
            throw FetchError(.cancelled, "the request to \(url) was cancelled")
        } catch let error as NIOTooManyBytesError {
            throw FetchError(.tooLarge, "\(url) is over the limit of \(maxSize) bytes: \(error)")
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout {
            throw FetchError(.deadlineExceeded, "\(url) did not answer within \(timeout): \(error)")
        } catch let error as HTTPClientError where error == .cancelled {
            throw FetchError(.cancelled, "the request to \(url) was cancelled")
        } catch {
            if Task.isCancelled { throw FetchError(.cancelled, "the request to \(url) was cancelled") }
            throw FetchError(.originUnreachable, "\(url): \(error)")
        }
    }

    /// Whether the response is meant for this client only (`private`, `no-store`).
    static func isPrivate(_ headers: HTTPHeaders) -> Bool {
        headers[canonicalForm: "Cache-Control"].contains { ["private", "no-store"].contains($0.lowercased().trimmingCharacters(in: .whitespaces)) }
            || headers[canonicalForm: "Cache-Control"].contains { $0.lowercased().hasPrefix("private=") }
    }

    /// Seconds the response may be reused for: `no-store`/`no-cache` → 0, else `max-age`.
    static func maxAge(_ headers: HTTPHeaders) -> Int? {
        let directives = headers[canonicalForm: "Cache-Control"].map { $0.lowercased() }
        if directives.contains(where: { $0 == "no-store" || $0 == "no-cache" }) { return 0 }
        for directive in directives where directive.hasPrefix("max-age=") {
            return Int(directive.dropFirst("max-age=".count).filter { $0 != "\"" })
        }
        return nil
    }
}
