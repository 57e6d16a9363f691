import FugitivePeer
import Hummingbird
import Logging
import Synchronization

/// The demo's origin: serves the catalogue over HTTP with `Repr-Digest`, `Content-Type`
/// and `Cache-Control`, and counts what it served.
struct DemoOrigin {
    final class Counters: Sendable {
        let value = Mutex<(requests: Int, bytes: Int)>((0, 0))
    }

    let application: Application<RouterResponder<BasicRequestContext>>
    let counters = Counters()

    init(catalogue: DemoCatalogue, port: Int = 0, logger: Logger, onListening: @escaping @Sendable (Int) -> Void) {
        let byPath = Dictionary(uniqueKeysWithValues: catalogue.items.map { ($0.path, $0) })
        let counters = counters
        let router = Router()
        @Sendable func respond(_ path: String, withBody: Bool) -> Response {
            guard let item = byPath[path] else { return Response(status: .notFound) }
            var headers = HTTPFields()
            headers[.contentType] = item.contentType
            headers[.cacheControl] = "public, max-age=3600"
            headers[.contentLength] = "\(item.body.count)"
            headers[.init("Repr-Digest")!] = ReprDigest.headerValue(for: item.digest)
            // The browser gallery (/demo on the orchestrator) is another origin.
            headers[.accessControlAllowOrigin] = "*"
            headers[.accessControlExposeHeaders] = "Repr-Digest, Content-Type"
            if withBody { counters.value.withLock { ($0.requests, $0.bytes) = ($0.requests + 1, $0.bytes + item.body.count) } }
            return Response(status: .ok, headers: headers, body: withBody ? .init(byteBuffer: ByteBuffer(bytes: item.body)) : .init())
        }
        router.get("/catalogue/{name}") { request, _ in respond(request.uri.path, withBody: true) }
        router.head("/catalogue/{name}") { request, _ in respond(request.uri.path, withBody: false) }
        application = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)),
            onServerRunning: { onListening($0.localAddress?.port ?? 0) }, logger: logger)
    }
}
