import Hummingbird
import Logging
import ServiceLifecycle
import Synchronization

/// A real HTTP origin for tests (on 127.0.0.1 unless told): serves fixed resources and
/// counts hits.
final class TestOrigin: Sendable {
    let host: String
    let port: Int
    private let hitCount: Hits
    private let group: ServiceGroup
    private let task: Task<Void, any Error>

    var url: String { "http://\(host):\(port)" }

    func hits(_ path: String) -> Int { hitCount.counts.withLock { $0[path, default: 0] } }
    var totalHits: Int { hitCount.counts.withLock { $0.values.reduce(0, +) } }

    final class Hits: Sendable {
        let counts = Mutex<[String: Int]>([:])
    }

    /// - Parameters:
    ///   - resources: path → (body, Cache-Control value or nil).
    ///   - dripping: paths whose body comes one byte per second (an origin that never ends).
    ///   - host, port: where to listen (port 0: a free one).
    init(
        _ resources: [String: (body: [UInt8], cacheControl: String?)], dripping: Set<String> = [], host: String = "127.0.0.1", port: Int = 0
    ) async throws {
        self.host = host
        let hitCount = Hits()
        let router = Router()
        router.get("**") { request, _ -> Response in
            let path = request.uri.path
            hitCount.counts.withLock { $0[path, default: 0] += 1 }
            if dripping.contains(path) {
                return Response(status: .ok, body: ResponseBody { writer in
                    for _ in 0..<120 {
                        try await writer.write(ByteBuffer(bytes: [0x61]))
                        try await Task.sleep(for: .seconds(1))
                    }
                    try await writer.finish(nil)
                })
            }
            guard let resource = resources[path] else { return Response(status: .notFound) }
            var headers = HTTPFields()
            if let cacheControl = resource.cacheControl { headers[.cacheControl] = cacheControl }
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: resource.body)))
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
        self.hitCount = hitCount
        var iterator = ports.makeAsyncIterator()
        self.port = await iterator.next() ?? 0
    }

    func stop() async {
        await group.triggerGracefulShutdown()
        _ = try? await task.value
    }
}
