import FugitiveServer
import FugitiveServerTesting
import FugitiveTestSupport
import FugitiveWire
import Logging
import Prometheus
import ServiceLifecycle
import Testing

@testable import FugitivePeer

/// The server link against a real orchestrator in this process.
@Suite("Server link", .serialized, .timeLimit(.minutes(1)))
struct ServerLinkTests {
    typealias Orchestrator = LiveOrchestrator

    static func holdings(_ count: Int) -> [Holding] {
        // Distinct digests: the index in the first two bytes.
        (0..<count).map { i in
            let bytes = [UInt8(i >> 8), UInt8(i & 0xff)] + [UInt8](repeating: 0xab, count: 30)
            return Holding(digest: ResourceDigest(bytes: bytes)!, url: "https://cdn.example/\(i)", size: 1000)
        }
    }

    /// The next event that `match` accepts.
    static func next<T>(_ iterator: inout AsyncStream<ServerLink.Event>.Iterator, _ match: (ServerLink.Event) -> T?) async throws -> T {
        while let event = await iterator.next() {
            if let value = match(event) { return value }
        }
        throw TestFailure("the link's events ended")
    }

    static func waitForHoldings(_ count: Int, on orchestrator: Orchestrator) async throws {
        let deadline = ContinuousClock.now + .seconds(5)
        while orchestrator.server.orchestrator.statistics().holdings != count {
            guard ContinuousClock.now < deadline else {
                throw TestFailure("the server holds \(orchestrator.server.orchestrator.statistics().holdings) holdings, not \(count)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    @Test func connectsAnnouncesAndComesBackAfterTheServerRestarts() async throws {
        let first = try await Orchestrator.start()
        let held = Self.holdings(300)
        var logger = Logger(label: "test.link")
        logger.logLevel = .critical
        let link = ServerLink(
            configuration: .init(
                servers: [first.url], swarm: "s", backoffBase: .milliseconds(100), backoffCap: .seconds(1), announceBatch: 128,
                welcomeTimeout: .seconds(2)),
            holdings: { held }, logger: logger)
        let running = Task { try await link.run() }
        defer { running.cancel() }
        var events = link.events.makeAsyncIterator()
        let welcome = try await Self.next(&events) { if case .connected(let w, _) = $0 { w } else { nil } }
        #expect(link.welcome == welcome)
        // 300 holdings in three `have` messages.
        try await Self.waitForHoldings(300, on: first)

        let port = first.port
        await first.stop()
        _ = try await Self.next(&events) { if case .disconnected = $0 { true } else { nil } }
        #expect(link.send(.want(Want(count: 1))) == false)
        let second = try await Orchestrator.start(port: port)
        let listeningAt = ContinuousClock.now
        defer { Task { await second.stop() } }
        _ = try await Self.next(&events) { if case .connected(let w, _) = $0 { w } else { nil } }
        // Within the back-off cap (1 s) plus one abandoned attempt (an attempt may have
        // reached the old server while it shut down: 2 s watchdog), with room for a loaded
        // machine — far below the default 30 s cap either way.
        #expect(ContinuousClock.now - listeningAt < .seconds(15))
        // The new server knew nothing: everything was announced again.
        try await Self.waitForHoldings(300, on: second)
        #expect(link.send(.want(Want(count: 1))))
    }

    @Test func failsOverToTheNextServer() async throws {
        let live = try await Orchestrator.start()
        defer { Task { await live.stop() } }
        var logger = Logger(label: "test.link")
        logger.logLevel = .critical
        // Nothing listens on port 9 of loopback.
        let link = ServerLink(
            configuration: .init(
                servers: ["ws://127.0.0.1:9/v1/signal", live.url], swarm: "s", backoffBase: .milliseconds(50), backoffCap: .milliseconds(200)),
            holdings: { [] }, logger: logger)
        let running = Task { try await link.run() }
        defer { running.cancel() }
        var events = link.events.makeAsyncIterator()
        let server = try await Self.next(&events) { if case .connected(_, let server) = $0 { server } else { nil } }
        #expect(server == live.url)
    }
}
