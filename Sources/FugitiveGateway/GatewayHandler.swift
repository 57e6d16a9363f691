import FugitivePeer
import Hummingbird

/// Fetches through the peer and turns the outcome into an HTTP response.
struct GatewayHandler: Sendable {
    let peer: Peer
    let configuration: PeerGateway.Configuration

    func respond(_ url: String) async -> Response {
        guard let origin = Peer.origin(of: url) else { return Self.failure(.badRequest, "\(url) is not an absolute http(s) URL") }
        guard configuration.allowedOrigins.isEmpty || configuration.allowedOrigins.contains(origin) else {
            return Self.failure(.forbidden, "\(origin) is not an origin this gateway serves")
        }
        do {
            let resource = try await peer.fetch(url, deadline: configuration.deadline)
            var headers = HTTPFields()
            headers[.contentType] = resource.contentType ?? "application/octet-stream"
            headers[.init("X-Fugitive-Source")!] = resource.source.description
            headers[.init("X-Fugitive-Digest")!] = resource.digest.description
            headers[.contentLength] = "\(resource.bytes.count)"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: resource.bytes)))
        } catch {
            return Self.failure(Self.status(for: error.code), "\(url): \(error)")
        }
    }

    /// How a fetch failure reads in HTTP.
    static func status(for code: FetchError.Code) -> HTTPResponse.Status {
        switch code {
        case .invalidURL: .badRequest
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
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: message + "\n")))
    }
}
