import Foundation
import FugitiveServer
import FugitiveServerTesting
import FugitiveTestSupport
import Testing

/// The gateway against a real resolver that changes its mind: a `fugitive peer --gateway`
/// process (the release build under `make test`) runs in a network namespace whose DNS
/// server is the test's. A rebinding name resolves to a public origin once, then to an
/// internal service; the gateway must never reach the internal one — it connects to the
/// address it checked, not to a second resolution's.
@Suite("Gateway in a network lab", .serialized, .timeLimit(.minutes(2)))
struct GatewayLabTests {
    typealias Orchestrator = LiveOrchestrator

    /// The lab's "public" network (11/8 is routed on the internet: the address filter takes
    /// it for public) and its internal one; both exist only inside this test's veth pair.
    static let publicHost: [UInt8] = [11, 203, 0, 1]
    static let internalHost: [UInt8] = [10, 203, 0, 1]
    static let gatewayPort = 18_081

    @Test func aRebindingNameNeverReachesTheInternalService() async throws {
        let lab = try NetworkLab(
            hostAddresses: ["11.203.0.1/24", "10.203.0.1/24"], labAddresses: ["11.203.0.2/24", "10.203.0.2/24"], nameServer: "11.203.0.1")
        defer { lab.remove() }
        let names = try await LabNameServer(
            host: "11.203.0.1",
            answers: ["rebind.fugitive.test": [Self.publicHost, Self.internalHost], "stable.fugitive.test": [Self.publicHost]])
        let publicOrigin = try await TestOrigin(
            ["/page": .init(body: Array("public page".utf8)), "/other": .init(body: Array("public other".utf8))], host: "11.203.0.1")
        // The internal service listens on the same port, so that only the address differs.
        let internalService = try await TestOrigin(
            ["/page": .init(body: Array("internal secret".utf8)), "/other": .init(body: Array("internal secret".utf8))],
            host: "10.203.0.1", port: publicOrigin.port)
        let server = try await Orchestrator.start(host: "11.203.0.1")
        let gateway = lab.process(
            CommandTests.binary.path,
            ["peer", "--server", server.url, "--swarm", "lab", "--gateway", "11.203.0.2:\(Self.gatewayPort)", "--log-level", "error"])
        gateway.standardOutput = FileHandle.nullDevice
        try gateway.run()
        defer {
            gateway.terminate()
            Task {
                await server.stop(); await publicOrigin.stop(); await internalService.stop(); await names.stop()
            }
        }
        let base = "http://11.203.0.2:\(Self.gatewayPort)"
        let started = ContinuousClock.now
        while gateway.isRunning, (try? await TestHTTP.get("\(base)/health").status) != 200 {
            try #require(ContinuousClock.now - started < .seconds(30), "the gateway in the lab did not answer /health")
            try await Task.sleep(for: .milliseconds(100))
        }
        try #require(gateway.isRunning, "the gateway process exited")
        func fetch(_ url: String) async throws -> (status: Int, body: String) {
            let answer = try await TestHTTP.get("\(base)/fetch?url=\(url.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)")
            return (answer.status, answer.body)
        }

        // A name the lab's DNS resolves to the public origin: fetched through the resolver.
        let stable = try await fetch("http://stable.fugitive.test:\(publicOrigin.port)/page")
        #expect(stable.status == 200 && stable.body == "public page", "\(stable.status) \(stable.body)")
        #expect(names.queries("stable.fugitive.test") >= 1)

        // The rebinding name: public for the first look-up, internal after it.
        for path in ["/page", "/other"] {
            let answer = try await fetch("http://rebind.fugitive.test:\(publicOrigin.port)\(path)")
            #expect(answer.body != "internal secret", "\(path): the gateway read the internal service")
            #expect(
                (answer.status == 200 && answer.body.hasPrefix("public")) || (answer.status == 403 && answer.body.contains("non-public")),
                "\(path): \(answer.status) \(answer.body)")
        }
        #expect(names.queries("rebind.fugitive.test") >= 2, "the resolver never handed out the internal address")
        #expect(internalService.totalRequests == 0, "the internal service was reached \(internalService.totalRequests) times")
        // The lab's resolver really rebinds: a look-up in the lab now gives the internal address.
        let lookup = try lab.inLab(["getent", "ahostsv4", "rebind.fugitive.test"])
        #expect(lookup.contains("10.203.0.1"), "\(lookup)")
    }
}
