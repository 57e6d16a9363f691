import Crypto
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import Synchronization

/// A real HTTP origin for tests (on 127.0.0.1 unless told): serves fixed resources with
/// `Repr-Digest`, `Content-Type`, `Content-Length` and `Cache-Control`, answers HEAD,
/// can be slow, redirect or drip, and counts requests.
public final class TestOrigin: Sendable {
    public struct Resource: Sendable {
        public var body: [UInt8]
        public var contentType: String
        /// `nil` sends no `Cache-Control`.
        public var cacheControl: String?
        /// The answer waits this long (a slow origin).
        public var delay: Duration
        /// Answer `302 Found` to this location instead of the body.
        public var redirect: String?
        /// Whether the answer carries `Repr-Digest` (the SHA-256 of `body`).
        public var sendsDigest: Bool
        /// Whether the body comes one byte a second for two minutes (an origin that never ends).
        public var drips: Bool

        public init(
            body: [UInt8], contentType: String = "application/octet-stream", cacheControl: String? = "max-age=3600", delay: Duration = .zero,
            redirect: String? = nil, sendsDigest: Bool = true, drips: Bool = false
        ) {
            self.body = body
            self.contentType = contentType
            self.cacheControl = cacheControl
            self.delay = delay
            self.redirect = redirect
            self.sendsDigest = sendsDigest
            self.drips = drips
        }
    }

    public let host: String
    public let port: Int
    private let counts: Counts
    private let group: ServiceGroup
    private let task: Task<Void, any Error>

    final class Counts: Sendable {
        let gets = Mutex<[String: Int]>([:])
        let heads = Mutex<[String: Int]>([:])
    }

    /// `http://host:port`.
    public var url: String { "http://\(host):\(port)" }
    /// `http://host:port` + `path`.
    public func url(_ path: String) -> String { url + path }
    /// GETs of `path` (HEADs aside).
    public func gets(_ path: String) -> Int { counts.gets.withLock { $0[path, default: 0] } }
    public var totalGets: Int { counts.gets.withLock { $0.values.reduce(0, +) } }
    /// Every request, GET or HEAD.
    public var totalRequests: Int { totalGets + counts.heads.withLock { $0.values.reduce(0, +) } }

    /// Serves `resources` (path → resource) on `host`:`port` (0: a free port).
    public init(_ resources: [String: Resource], host: String = "127.0.0.1", port: Int = 0) async throws {
        self.host = host
        let counts = Counts()
        let router = Router()
        router.get("**") { request, _ -> Response in
            counts.gets.withLock { $0[request.uri.path, default: 0] += 1 }
            if let delay = resources[request.uri.path]?.delay, delay > .zero { try await Task.sleep(for: delay) }
            return Self.response(resources[request.uri.path], body: true)
        }
        router.head("**") { request, _ -> Response in
            counts.heads.withLock { $0[request.uri.path, default: 0] += 1 }
            return Self.response(resources[request.uri.path], body: false)
        }
        var logger = Logger(label: "test.origin")
        logger.logLevel = .warning
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let app = Application(
            router: router, configuration: .init(address: .hostname(host, port: port)),
            onServerRunning: { continuation.yield($0.localAddress?.port ?? 0) }, logger: logger)
        let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
        self.group = group
        self.task = Task { try await group.run() }
        self.counts = counts
        var iterator = ports.makeAsyncIterator()
        self.port = await iterator.next() ?? 0
    }

    public func stop() async {
        await group.triggerGracefulShutdown()
        _ = try? await task.value
    }

    static func response(_ resource: Resource?, body: Bool) -> Response {
        guard let resource else { return Response(status: .notFound) }
        var headers = HTTPFields()
        if let location = resource.redirect {
            headers[.location] = location
            return Response(status: .found, headers: headers)
        }
        if resource.drips {
            return Response(
                status: .ok,
                body: ResponseBody { writer in
                    for _ in 0..<120 {
                        try await writer.write(ByteBuffer(bytes: [0x61]))
                        try await Task.sleep(for: .seconds(1))
                    }
                    try await writer.finish(nil)
                })
        }
        headers[.contentType] = resource.contentType
        if let cacheControl = resource.cacheControl { headers[.cacheControl] = cacheControl }
        if resource.sendsDigest {
            let digest = Data(SHA256.hash(data: resource.body)).base64EncodedString()
            headers[.init("Repr-Digest")!] = "sha-256=:\(digest):"
        }
        headers[.contentLength] = "\(resource.body.count)"
        // Browser peers on another origin read the body and the digest.
        headers[.accessControlAllowOrigin] = "*"
        headers[.accessControlExposeHeaders] = "Repr-Digest, Content-Type"
        return Response(status: .ok, headers: headers, body: body ? .init(byteBuffer: ByteBuffer(bytes: resource.body)) : .init())
    }
}
