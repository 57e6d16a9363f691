import FugitivePeer
import FugitiveWire
import Hummingbird

/// Fetches through the peer and turns the outcome into an HTTP response. The gateway
/// fetches on behalf of whatever asks it, so it refuses what would make it a path into the
/// user's network: requests a browser sends for another site, destinations (and redirect
/// hops) that are not public unless configured, and origins off its allowlist.
struct GatewayHandler: Sendable {
    let peer: Peer
    let configuration: PeerGateway.Configuration

    var destinations: DestinationPolicy {
        DestinationPolicy(allowPrivateAddresses: configuration.allowPrivateAddresses, allowedOrigins: configuration.allowedOrigins)
    }

    func respond(_ url: String, to request: Request) async -> Response {
        if let refusal = Self.crossSiteRefusal(request) { return refusal }
        guard let origin = Peer.origin(of: url) else { return Self.failure(.badRequest, "\(url) is not an absolute http(s) URL") }
        guard configuration.allowedOrigins.isEmpty || configuration.allowedOrigins.contains(origin) else {
            return Self.failure(.forbidden, "\(origin) is not an origin this gateway serves")
        }
        do {
            let resource = try await peer.fetch(url, deadline: configuration.deadline, destinations: destinations)
            return Self.response(resource, to: request)
        } catch {
            return Self.failure(Self.status(for: error.code), "\(url): \(error)")
        }
    }

    /// The resource, whole (200) or the one range the request asks (206, or 416 past its
    /// end). The digest is a strong validator, so it is the `ETag`, and an `If-Range` naming
    /// another gets the whole resource (RFC 9110 §13.1.5).
    static func response(_ resource: Resource, to request: Request) -> Response {
        let size = resource.bytes.count
        let etag = "\"\(resource.digest.hex)\""
        var headers = HTTPFields()
        headers[.contentType] = resource.contentType ?? "application/octet-stream"
        headers[.init("X-Content-Type-Options")!] = "nosniff"
        headers[.init("X-Fugitive-Source")!] = resource.source.description
        headers[.init("X-Fugitive-Digest")!] = resource.digest.description
        headers[.acceptRanges] = "bytes"
        headers[.eTag] = etag
        var range = ByteRangeRequest(header: request.headers[.range], size: size)
        if let validator = request.headers[.ifRange], validator != etag { range = .whole }
        switch range {
        case .whole:
            headers[.contentLength] = "\(size)"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: resource.bytes)))
        case .partial(let bytes):
            headers[.contentRange] = "bytes \(bytes.lowerBound)-\(bytes.upperBound - 1)/\(size)"
            headers[.contentLength] = "\(bytes.count)"
            return Response(status: .partialContent, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: resource.bytes[bytes])))
        case .unsatisfiable:
            var refusal = failure(.rangeNotSatisfiable, "the range \(request.headers[.range] ?? "") lies past the end of \(size) bytes")
            refusal.headers[.contentRange] = "bytes */\(size)"
            return refusal
        }
    }

    /// A browser marks a request a page makes to another site (`Sec-Fetch-Site`), and a
    /// cross-origin `fetch` or form names its page (`Origin`): the gateway serves neither,
    /// so a site the user visits cannot read through it. Clients that are no browser (curl,
    /// apps) send neither header.
    static func crossSiteRefusal(_ request: Request) -> Response? {
        if let site = request.headers[.init("Sec-Fetch-Site")!]?.lowercased(), site == "cross-site" || site == "same-site" {
            return failure(.forbidden, "the gateway does not serve requests from web pages of other sites (Sec-Fetch-Site: \(site))")
        }
        if let origin = request.headers[.init("Origin")!] {
            return failure(.forbidden, "the gateway does not serve cross-origin requests (Origin: \(origin.prefix(100)))")
        }
        return nil
    }

    /// How a fetch failure reads in HTTP.
    static func status(for code: FetchError.Code) -> HTTPResponse.Status {
        switch code {
        case .invalidURL: .badRequest
        case .destinationRefused: .forbidden
        case .deadlineExceeded: .gatewayTimeout
        case .tooLarge: .init(code: 413, reasonPhrase: "Content Too Large")
        case .cancelled: .serviceUnavailable
        case .store: .internalServerError
        default: .badGateway  // unreachable, an error status, bytes that do not match
        }
    }

    static func failure(_ status: HTTPResponse.Status, _ message: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/plain; charset=utf-8"
        headers[.init("X-Content-Type-Options")!] = "nosniff"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: message + "\n")))
    }
}
