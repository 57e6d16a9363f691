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

/// The local HTTP gateway in front of a real peer: `/fetch`, the forward proxy (with
/// curl), and each error status.
@Suite("Gateway", .serialized, .timeLimit(.minutes(2)))
struct GatewayTests {
    typealias Orchestrator = LiveOrchestrator

    struct Running {
        let port: Int
        let task: Task<Void, any Error>
        var url: String { "http://127.0.0.1:\(port)" }
    }

    static func gateway(_ peer: Peer, _ configuration: PeerGateway.Configuration) async throws -> Running {
        let (ports, sink) = AsyncStream.makeStream(of: Int.self)
        let gateway = PeerGateway(peer: peer, configuration: configuration, logger: TestSwarm.logger) { sink.yield($0) }
        let task = Task { try await gateway.run() }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw TestFailure("the gateway did not start") }
        return Running(port: port, task: task)
    }

    static func get(_ url: String) async throws -> (status: Int, headers: [String: String], body: [UInt8]) {
        let answer = try await TestHTTP.get(url)
        return (answer.status, answer.headers, answer.bytes)
    }

    @Test func fetchesThroughThePeerAndProxiesForCurl() async throws {
        let script = TestSwarm.text(200_000)
        let image = TestSwarm.bytes(700_000, seed: 8)
        let origin = try await TestOrigin([
            "/app.js": .init(body: script, contentType: "text/javascript"), "/img.jpg": .init(body: image, contentType: "image/jpeg"),
        ])
        let server = try await Orchestrator.start()
        let holder = try TestSwarm.start(server: server.url, targetLinks: 1)
        let user = try TestSwarm.start(server: server.url, targetLinks: 1)
        let gateway = try await Self.gateway(user.peer, .init(port: 0, allowPrivateAddresses: true))
        defer {
            gateway.task.cancel()
            Task {
                await holder.stop(); await user.stop(); await server.stop(); await origin.stop()
            }
        }
        try await TestSwarm.waitForLinks([holder, user], atLeast: 1)
        _ = try await holder.peer.fetch(origin.url("/app.js"))
        _ = try await holder.peer.fetch(origin.url("/img.jpg"))
        try await TestSwarm.wait("the holdings") { server.server.orchestrator.statistics().holdings == 2 }

        let escaped = origin.url("/app.js").addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        let fetched = try await Self.get("\(gateway.url)/fetch?url=\(escaped)")
        #expect(fetched.status == 200 && fetched.body == script)
        #expect(fetched.headers["content-type"] == "text/javascript")
        #expect(fetched.headers["x-fugitive-source"] == "peer \(holder.peer.id!)")
        #expect(fetched.headers["x-fugitive-digest"] == ResourceDigest.sha256(of: script).description)

        // curl with the gateway as its HTTP proxy.
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("fugitive-curl-\(UUID().uuidString)")
        let headers = file.appendingPathExtension("headers")
        defer { try? FileManager.default.removeItem(at: file); try? FileManager.default.removeItem(at: headers) }
        let curl = Process()
        curl.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        curl.arguments = ["-s", "-x", gateway.url, "-o", file.path, "-D", headers.path, "-w", "%{http_code}", origin.url("/img.jpg")]
        curl.standardInput = FileHandle.nullDevice
        let pipe = Pipe()
        curl.standardOutput = pipe
        try curl.run()
        let code = await waitOffThePool {
            let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            curl.waitUntilExit()
            return output
        }
        #expect(code == "200")
        #expect(try [UInt8](Data(contentsOf: file)) == image)
        let headerText = try String(contentsOf: headers, encoding: .utf8).lowercased()
        #expect(headerText.contains("x-fugitive-source: peer \(holder.peer.id!.rawValue.lowercased())"))
        #expect(origin.gets("/img.jpg") == 1 && origin.gets("/app.js") == 1)
    }

    @Test func failuresMapToHTTPStatuses() async throws {
        // The open gateway's deadline is far below the slow origin's delay, and far above what
        // a fetch that fails fast takes on a loaded runner (1 s made a 404 a 504 there).
        let origin = try await TestOrigin(["/slow": .init(body: [1, 2, 3], delay: .seconds(10))])
        let server = try await Orchestrator.start()
        let peer = try TestSwarm.start(server: server.url)
        let open = try await Self.gateway(peer.peer, .init(port: 0, deadline: .seconds(3), allowPrivateAddresses: true))
        let strict = try await Self.gateway(
            peer.peer, .init(port: 0, allowedOrigins: ["http://127.0.0.1:\(origin.port)"], allowPrivateAddresses: true))
        defer {
            open.task.cancel()
            strict.task.cancel()
            Task {
                await peer.stop(); await server.stop(); await origin.stop()
            }
        }
        func status(_ gateway: Running, _ target: String) async throws -> Int {
            let escaped = target.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
            return try await Self.get("\(gateway.url)/fetch?url=\(escaped)").status
        }
        let statuses = [
            try await Self.get("\(open.url)/fetch").status, try await status(open, "not a url"),
            try await status(strict, "http://127.0.0.1:1/x"),
            try await status(open, "http://127.0.0.1:1/x"),  // nobody listens on port 1
            try await status(open, origin.url("/missing")), try await status(open, origin.url("/slow")),
        ]
        #expect(statuses == [400, 400, 403, 502, 502, 504])
    }
}
