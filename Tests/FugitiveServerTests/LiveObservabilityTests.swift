import AsyncHTTPClient
import Foundation
import FugitiveServer
import FugitiveServerTesting
import FugitiveWire
import Testing
extension LiveServerTests {
    /// `/health`, `/metrics` and `/v1/stats` on a live server with real traffic.
    @Suite("Live server: observability")
    struct LiveObservabilityTests {
        static func get(_ url: String, token: String? = LiveServer.operatorToken) async throws -> (status: UInt, contentType: String?, body: String) {
            var request = HTTPClientRequest(url: url)
            if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(5))
            let body = try await response.body.collect(upTo: 1 << 20)
            return (response.status.code, response.headers.first(name: "content-type"), String(buffer: body))
        }

        @Test func healthMetricsAndStatsReportTheSwarm() async throws {
            try await LiveServer.with({ $0.orchestrator.pairTimeout = .milliseconds(500) }) { server in
                let a = TestPeer(server.signalURL)
                let b = TestPeer(server.signalURL)
                let c = TestPeer(server.signalURL)
                let ida = try await a.join(swarm: "shop").peer
                let idb = try await b.join(swarm: "shop").peer
                _ = try await c.join(swarm: "news")
                a.send(.want(Want(count: 1)))
                _ = try await a.next()
                _ = try await b.next()
                a.send(.signal(Signal(peer: idb, kind: .offer, sdp: "v=0")))
                _ = try await b.next()
                b.send(.signal(Signal(peer: ida, kind: .answer, sdp: "v=0")))
                _ = try await a.next()
                a.send(.link(LinkReport(peer: idb, state: .connected, rttMillis: 4)))
                a.send(
                    .have(Have(holdings: [Holding(digest: ResourceDigest(bytes: [UInt8](repeating: 5, count: 32))!, url: "https://shop/x", size: 5)]))
                )
                c.send(.signal(Signal(peer: ida, kind: .offer, sdp: "x")))  // not paired: an error
                _ = try await c.next()
                b.send(.link(LinkReport(peer: ida, state: .connected)))  // a link needs both sides' word
                a.send(.ping(Heartbeat(nonce: 1)))
                _ = try await a.expect { $0 == .pong(Heartbeat(nonce: 1)) ? true : nil }  // all of a's messages are in
                b.send(.ping(Heartbeat(nonce: 2)))
                _ = try await b.expect { $0 == .pong(Heartbeat(nonce: 2)) ? true : nil }

                // The operator endpoints publish peer ids and traffic: not without the token.
                for path in ["/metrics", "/v1/stats", "/v1/graph", "/dashboard"] {
                    #expect(try await Self.get(server.httpURL + path, token: nil).status == 401, "\(path) answered without a token")
                    #expect(try await Self.get(server.httpURL + path, token: "wrong-token-0123456789xx").status == 401)
                }
                #expect(try await Self.get(server.httpURL + "/v1/graph").status == 200)

                let health = try await Self.get(server.httpURL + "/health")
                #expect(health.status == 200 && health.body.contains("\"ok\"") && health.body.contains("\"peers\":3"))

                let metrics = try await Self.get(server.httpURL + "/metrics")
                #expect(metrics.status == 200 && metrics.contentType?.hasPrefix("text/plain") == true)
                for line in [
                    "fugitive_peers 3", "fugitive_swarms 2", "fugitive_links 1", "fugitive_holdings 1",
                    "fugitive_pairs_made_total 1", "fugitive_signals_relayed_total 2",
                    "fugitive_errors_total{code=\"2001\",name=\"not-paired\"} 1",
                ] {
                    #expect(metrics.body.contains(line + "\n") || metrics.body.contains(line + ".0\n"), "missing \(line) in\n\(metrics.body)")
                }

                let stats = try await Self.get(server.httpURL + "/v1/stats")
                let decoded = try JSONDecoder().decode(ServerStatistics.self, from: Data(stats.body.utf8))
                #expect(decoded.peers == 3 && decoded.swarmCount == 2 && decoded.links == 1 && decoded.holdings == 1)
                let shop = try #require(decoded.swarms.first { $0.swarm == "shop" })
                #expect(shop.shape == SwarmShape(peers: 2, links: 1, pendingPairs: 0, resources: 1, holdings: 1))
                #expect(shop.counts.pairsMade == 1 && shop.counts.signalsRelayed == 2)
                let news = try #require(decoded.swarms.first { $0.swarm == "news" })
                #expect(news.counts.errors["2001"] == 1 && news.shape.peers == 1)
            }
        }
    }
}
