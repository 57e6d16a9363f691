import AsyncHTTPClient
import Foundation
import FugitiveGateway
import FugitivePeer
import FugitivePeerTesting
import FugitiveServerTesting
import FugitiveTestSupport
import FugitiveWire
import NIOCore
import Testing

/// The gateway is no open proxy and no way into the user's network: a cross-site page, a
/// redirect off the allowlist, a private destination, a rebound name and the gateway's own
/// address in any spelling are refused, and only public answers are announced to the swarm.
@Suite("Gateway security", .serialized, .timeLimit(.minutes(2)))
struct GatewaySecurityTests {
    typealias Orchestrator = LiveOrchestrator

    static func get(_ url: String, headers: [(String, String)] = []) async throws -> (status: Int, body: String, headers: [String: String]) {
        let answer = try await TestHTTP.get(url, headers: headers)
        return (answer.status, answer.body, answer.headers)
    }

    static func fetch(_ gateway: GatewayTests.Running, _ target: String, headers: [(String, String)] = []) async throws -> (
        status: Int, body: String, headers: [String: String]
    ) {
        let escaped = target.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        return try await get("\(gateway.url)/fetch?url=\(escaped)", headers: headers)
    }

    /// A peer on a fresh orchestrator with a gateway in front of it (the setup of every test
    /// here), stopped when `body` returns or throws.
    static func withGateway<T>(
        _ configuration: PeerGateway.Configuration, _ body: (GatewayTests.Running, LiveOrchestrator, RunningPeer) async throws -> T
    ) async throws -> T {
        let server = try await Orchestrator.start()
        let peer = try TestSwarm.start(server: server.url)
        func stop(_ gateway: GatewayTests.Running?) async {
            gateway?.task.cancel()
            await peer.stop()
            await server.stop()
        }
        do {
            let gateway = try await GatewayTests.gateway(peer.peer, configuration)
            do {
                let result = try await body(gateway, server, peer)
                await stop(gateway)
                return result
            } catch {
                await stop(gateway)
                throw error
            }
        } catch {
            await stop(nil)
            throw error
        }
    }

    @Test func privateDestinationsAreRefusedByDefaultAfterResolution() async throws {
        let origin = try await TestOrigin(["/secret": .init(body: Array("internal".utf8))])
        defer { Task { await origin.stop() } }
        try await Self.withGateway(.init(port: 0)) { gateway, server, peer in
            // By address, by a name that resolves to loopback, and in legacy spellings.
            for target in [
                origin.url("/secret"), "http://localhost:\(origin.port)/secret", "http://127.1:\(origin.port)/secret",
                "http://2130706433:\(origin.port)/secret", "http://[::ffff:127.0.0.1]:\(origin.port)/secret",
            ] {
                let answer = try await Self.fetch(gateway, target)
                #expect(answer.status == 403, "\(target): \(answer.status) \(answer.body)")
                #expect(answer.body.contains("non-public"), "\(answer.body)")
            }
            #expect(origin.totalGets == 0, "the origin was reached")
        }
    }

    @Test func redirectsAreCheckedHopByHopAndNeverAnnounced() async throws {
        let inner = try await TestOrigin(["/inner": .init(body: Array("behind the allowlist".utf8))])
        let outer = try await TestOrigin([
            "/out": .init(body: [], redirect: inner.url("/inner")), "/here": .init(body: [], redirect: "/page"),
            "/page": .init(body: Array("same origin".utf8)),
        ])
        defer {
            Task {
                await outer.stop(); await inner.stop()
            }
        }
        try await Self.withGateway(.init(port: 0, allowedOrigins: ["http://127.0.0.1:\(outer.port)"], allowPrivateAddresses: true)) {
            allowlisted, server, peer in
            let escaped = try await Self.fetch(allowlisted, outer.url("/out"))
            #expect(escaped.status == 403 && escaped.body.contains("not an allowed origin"), "\(escaped.status) \(escaped.body)")
            #expect(inner.totalGets == 0)
            // A redirect inside the allowlist is followed, but what came through it is not announced.
            let followed = try await Self.fetch(allowlisted, outer.url("/here"))
            #expect(followed.status == 200 && followed.body == "same origin")
            try await Task.sleep(for: .milliseconds(300))
            #expect(server.server.orchestrator.statistics().holdings == 0, "a redirected answer was announced")
        }
    }

    @Test func privateAnswersAndPrivateAddressesAreNotAnnounced() async throws {
        let origin = try await TestOrigin([
            "/mine": .init(body: Array("per user".utf8), cacheControl: "private, max-age=60"),
            "/never": .init(body: Array("no store".utf8), cacheControl: "no-store"),
            "/public": .init(body: Array("public".utf8)),
        ])
        defer { Task { await origin.stop() } }
        try await Self.withGateway(.init(port: 0, allowPrivateAddresses: true)) { gateway, server, peer in
            try await TestSwarm.wait("the peer's session") { peer.peer.id != nil }
            for path in ["/mine", "/never", "/public"] { _ = try await peer.peer.fetch(origin.url(path)) }
            // Only the public answer is announced (the peer's own fetches may share what its
            // operator's network serves).
            try await TestSwarm.wait("the public holding") { server.server.orchestrator.statistics().holdings == 1 }
            // Through the gateway, a private address is never announced, even when allowed.
            #expect(try await Self.fetch(gateway, origin.url("/gateway-only")).status == 502)
            let viaGateway = try await TestOrigin(["/g": .init(body: Array("g".utf8))])
            defer { Task { await viaGateway.stop() } }
            #expect(try await Self.fetch(gateway, viaGateway.url("/g")).status == 200)
            try await Task.sleep(for: .milliseconds(500))
            #expect(server.server.orchestrator.statistics().holdings == 1)
        }
    }

    @Test func crossSiteRequestsForeignHostsAndItselfAreRefused() async throws {
        let origin = try await TestOrigin(["/x": .init(body: Array("x".utf8))])
        defer { Task { await origin.stop() } }
        try await Self.withGateway(.init(port: 0, allowPrivateAddresses: true)) { gateway, server, peer in
            let target = origin.url("/x")
            #expect(try await Self.fetch(gateway, target).status == 200)
            // A page of another site (an <img>, a fetch) is refused.
            #expect(try await Self.fetch(gateway, target, headers: [("Sec-Fetch-Site", "cross-site")]).status == 403)
            #expect(try await Self.fetch(gateway, target, headers: [("Sec-Fetch-Site", "same-site")]).status == 403)
            #expect(try await Self.fetch(gateway, target, headers: [("Origin", "https://evil.example")]).status == 403)
            // `/fetch` under a name that is not the gateway's (a DNS-rebound page) is refused.
            let rebound = try await Self.fetch(gateway, target, headers: [("Host", "evil.example:\(gateway.port)")])
            #expect(rebound.status == 421, "\(rebound.status) \(rebound.body)")
            // As a proxy, the gateway never fetches from itself, however its address is spelled.
            for spelling in ["127.1", "2130706433", "0x7f.0.0.1", "[::ffff:127.0.0.1]", "0", "app.localhost"] {
                let started = ContinuousClock.now
                let answer = try await Self.get("\(gateway.url)/x", headers: [("Host", "\(spelling):\(gateway.port)")])
                #expect(answer.status == 403 && answer.body.contains("does not fetch from itself"), "\(spelling): \(answer.status) \(answer.body)")
                #expect(ContinuousClock.now - started < .seconds(2))
            }
            #expect(try await Self.fetch(gateway, target).headers["x-content-type-options"] == "nosniff")
        }
    }

    /// RFC 9112 §3.2: an absolute-form request line names what is fetched, whatever `Host`
    /// says; only `http://` is proxied; one `Host` exactly; no user information. Sent as raw
    /// bytes: HTTP clients never send a `Host` that disagrees with the request line.
    @Test func absoluteFormTargetsFollowRFC9112() async throws {
        let origin = try await TestOrigin(["/x": .init(body: Array("from the request line".utf8))])
        defer { Task { await origin.stop() } }
        try await Self.withGateway(.init(port: 0, allowPrivateAddresses: true)) { gateway, server, peer in
            func send(_ head: String) async throws -> (status: Int, text: String) {
                let text = try await waitOffThePool {
                    let connection = try RawTCPConnection(to: "127.0.0.1", port: gateway.port)
                    guard connection.send(head + "Connection: close\r\n\r\n") else {
                        throw RawTCPConnection.Failure(description: "the gateway closed before the request was sent")
                    }
                    return String(decoding: connection.readToEnd(timeout: 20) ?? [], as: UTF8.self)
                }
                let status = text.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
                return (status, text)
            }
            // The request line's authority wins over a Host naming somewhere else.
            let proxied = try await send("GET \(origin.url("/x")) HTTP/1.1\r\nHost: unreachable.invalid:1\r\n")
            #expect(proxied.status == 200 && proxied.text.hasSuffix("from the request line"), "\(proxied.text.prefix(300))")
            #expect(origin.gets("/x") == 1)
            // An absolute form naming the gateway is the gateway's own route, whatever Host says.
            let own = try await send("GET http://127.0.0.1:\(gateway.port)/health HTTP/1.1\r\nHost: somewhere.else:80\r\n")
            #expect(own.status == 200 && own.text.hasSuffix("ok"), "\(own.text.prefix(300))")
            // https:// is not fetched over plain HTTP; tunnels are not offered.
            let secure = try await send("GET https://127.0.0.1:\(origin.port)/x HTTP/1.1\r\nHost: 127.0.0.1:\(origin.port)\r\n")
            #expect(secure.status == 400 && secure.text.contains("http:// URLs only"), "\(secure.text.prefix(300))")
            let tunnel = try await send("CONNECT 127.0.0.1:\(origin.port) HTTP/1.1\r\nHost: 127.0.0.1:\(origin.port)\r\n")
            #expect(tunnel.status == 405, "\(tunnel.text.prefix(300))")
            // Exactly one Host in HTTP/1.1; no user information in the target.
            let twoHosts = try await send("GET /health HTTP/1.1\r\nHost: 127.0.0.1:\(gateway.port)\r\nHost: other:1\r\n")
            #expect(twoHosts.status == 400, "\(twoHosts.text.prefix(300))")
            let noHost = try await send("GET /health HTTP/1.1\r\n")
            #expect(noHost.status == 400, "\(noHost.text.prefix(300))")
            let userinfo = try await send("GET http://user@127.0.0.1:\(origin.port)/x HTTP/1.1\r\nHost: 127.0.0.1:\(origin.port)\r\n")
            #expect(userinfo.status == 400, "\(userinfo.text.prefix(300))")
            #expect(origin.gets("/x") == 1, "a refused request reached the origin")
        }
    }
}
