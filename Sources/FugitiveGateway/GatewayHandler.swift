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
            var headers = HTTPFields()
            headers[.contentType] = resource.contentType ?? "application/octet-stream"
            headers[.init("X-Content-Type-Options")!] = "nosniff"
            headers[.init("X-Fugitive-Source")!] = resource.source.description
            headers[.init("X-Fugitive-Digest")!] = resource.digest.description
            headers[.contentLength] = "\(resource.bytes.count)"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: resource.bytes)))
        } catch {
            return Self.failure(Self.status(for: error.code), "\(url): \(error)")
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
