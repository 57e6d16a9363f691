import NIOCore
import NIOHTTP1

/// Reads the request target the way RFC 9112 §3.2 says, before the request is turned into
/// HTTP types (which keep only the `Host` header's authority and the path):
///
/// - an absolute-form target (`GET http://origin/x`, what a client sends a forward proxy)
///   names the resource: its authority replaces whatever `Host` says (§3.2.2), so that the
///   gateway fetches what the request line asks for, not what a second header claims;
/// - only `http://` is proxied: an `https://` target would otherwise be fetched over
///   plain HTTP, and tunnels (`CONNECT`) are not offered;
/// - an HTTP/1.1 request without exactly one `Host`, a target with user information, or
///   one in no form the gateway serves is answered 400 and the connection closed.
///
/// A handler between NIO's HTTP/1 decoder and `HTTP1ToHTTPServerCodec`; after a refusal
/// it drops what else the connection sends.
final class AbsoluteFormTarget: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    /// What a request head becomes.
    enum Verdict: Equatable {
        case pass(HTTPRequestHead)
        case refuse(HTTPResponseStatus, String)
    }

    private var refused = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !refused else { return }
        guard case .head(let head) = unwrapInboundIn(data) else {
            context.fireChannelRead(data)
            return
        }
        switch Self.verdict(head) {
        case .pass(let rewritten):
            context.fireChannelRead(wrapInboundOut(.head(rewritten)))
        case .refuse(let status, let reason):
            refused = true
            let body = ByteBuffer(string: reason + "\n")
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: "text/plain; charset=utf-8")
            headers.add(name: "Content-Length", value: "\(body.readableBytes)")
            headers.add(name: "Connection", value: "close")
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in context.close(promise: nil) }
        }
    }

    /// The head to pass on (absolute form rewritten to origin form with its authority as
    /// `Host`), or the refusal.
    static func verdict(_ head: HTTPRequestHead) -> Verdict {
        let hosts = head.headers["Host"]
        if head.version.major == 1, head.version.minor >= 1, hosts.count != 1 {
            return .refuse(.badRequest, "an HTTP/1.1 request carries exactly one Host header (it had \(hosts.count))")
        }
        if hosts.count > 1 { return .refuse(.badRequest, "a request carries at most one Host header") }
        if head.method == .CONNECT { return .refuse(.methodNotAllowed, "the gateway does not tunnel (CONNECT); it proxies http:// URLs") }
        let target = head.uri
        if target.hasPrefix("/") || (target == "*" && head.method == .OPTIONS) { return .pass(head) }
        guard let separator = target.range(of: "://") else {
            return .refuse(.badRequest, "'\(target.prefix(100))' is no request target the gateway serves (origin or absolute form)")
        }
        let scheme = target[..<separator.lowerBound].lowercased()
        guard scheme == "http" else {
            return .refuse(.badRequest, "the gateway proxies http:// URLs only, not \(scheme.prefix(20))://")
        }
        let rest = target[separator.upperBound...]
        let end = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? rest.endIndex
        let authority = String(rest[..<end])
        guard !authority.isEmpty, !authority.contains("@") else {
            return .refuse(.badRequest, "'\(target.prefix(100))' has no host, or user information (refused, RFC 9110 §4.2.4)")
        }
        var path = String(rest[end...].prefix { $0 != "#" })
        if !path.hasPrefix("/") { path = "/" + path }
        var rewritten = head
        rewritten.uri = path
        rewritten.headers.replaceOrAdd(name: "Host", value: authority)
        return .pass(rewritten)
    }
}
