import FugitivePeer
import FugitiveWire
import Hummingbird
import Logging
import ServiceLifecycle
import Synchronization

/// A real HTTP origin on 127.0.0.1 for the end-to-end tests: serves fixed resources with
/// `Repr-Digest`, `Content-Type` and `Cache-Control`, answers HEAD, and counts requests.
final class DigestOrigin: Sendable {
    struct Resource: Sendable {
        var body: [UInt8]
        var contentType = "application/octet-stream"
        var cacheControl = "max-age=3600"
        /// The answer waits this long (a slow origin).
        var delay: Duration = .zero
        /// Answer `302 Found` to this location instead of the body.
        var redirect: String? = nil
    }

    let host: String
    let port: Int
    private let counts: Counts
    private let group: ServiceGroup
    private let task: Task<Void, any Error>

    final class Counts: Sendable {
        let gets = Mutex<[String: Int]>([:])
        let heads = Mutex<[String: Int]>([:])
    }

    func url(_ path: String) -> String { "http://\(host):\(port)\(path)" }
    /// Bodies served for `path` (HEADs aside).
    func gets(_ path: String) -> Int { counts.gets.withLock { $0[path, default: 0] } }
    var totalGets: Int { counts.gets.withLock { $0.values.reduce(0, +) } }
    /// Every request, GET or HEAD.
    var totalRequests: Int { totalGets + counts.heads.withLock { $0.values.reduce(0, +) } }

    /// Serves `resources` on `host`:`port` (0: a free port).
    init(_ resources: [String: Resource], host: String = "127.0.0.1", port: Int = 0) async throws {
        self.host = host
        let counts = Counts()
        let router = Router()
        @Sendable func respond(_ path: String, body: Bool) -> Response {
            guard let resource = resources[path] else { return Response(status: .notFound) }
            var headers = HTTPFields()
            if let location = resource.redirect {
                headers[.location] = location
                return Response(status: .found, headers: headers)
            }
            headers[.contentType] = resource.contentType
            headers[.cacheControl] = resource.cacheControl
            headers[.init("Repr-Digest")!] = ReprDigest.headerValue(for: ResourceDigest.sha256(of: resource.body))
            headers[.contentLength] = "\(resource.body.count)"
            // Browser peers on another origin read the body and the digest.
            headers[.accessControlAllowOrigin] = "*"
            headers[.accessControlExposeHeaders] = "Repr-Digest, Content-Type"
            return Response(status: .ok, headers: headers, body: body ? .init(byteBuffer: ByteBuffer(bytes: resource.body)) : .init())
        }
        router.get("**") { request, _ -> Response in
            counts.gets.withLock { $0[request.uri.path, default: 0] += 1 }
            if let delay = resources[request.uri.path]?.delay, delay > .zero { try await Task.sleep(for: delay) }
            return respond(request.uri.path, body: true)
        }
        router.head("**") { request, _ -> Response in
            counts.heads.withLock { $0[request.uri.path, default: 0] += 1 }
            return respond(request.uri.path, body: false)
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

    func stop() async {
        await group.triggerGracefulShutdown()
        _ = try? await task.value
    }
}
