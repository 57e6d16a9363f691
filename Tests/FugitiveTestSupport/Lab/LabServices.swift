import Foundation
import FugitiveLab
import FugitiveTestSupport

/// The lab's public services for a swarm test: the lab itself, a name server, coturn, an
/// origin with one resource per pair, and a `fugitive server` in the service namespace.
public struct LabServices: Sendable {
    public static let serverPort = 18_090
    public static let operatorToken = "lab-operator-token-0123"
    public static let turnName = "turn.fugitive.test"

    public let lab: InternetLab
    public let names: LabNameServer
    public let turn: LabTurnServer
    public let origin: TestOrigin
    public let server: Process
    public var signalURL: String { "ws://\(InternetLab.serviceAddresses[0]):\(Self.serverPort)/v1/signal" }

    /// Starts everything but the lab (given, verified by the caller). `serverArguments`
    /// come after `fugitive server --host … --port …` (ICE servers, credentials, a config file).
    public static func start(in lab: InternetLab, resources: [String: TestOrigin.Resource], serverArguments: (LabTurnServer) throws -> [String])
        async throws -> LabServices
    {
        let names = try await LabNameServer(host: InternetLab.testAddresses[0], answers: [turnName: [[11, 77, 0, 3]]])
        let turn = try await LabTurnServer(in: lab)
        let origin = try await TestOrigin(resources, host: InternetLab.testAddresses[0])
        let server = lab.process(
            in: lab.serviceNamespace, Binaries.fugitive.path,
            [
                "server", "--host", InternetLab.serviceAddresses[0], "--port", "\(serverPort)", "--allow-origin", origin.url,
                "--operator-token", operatorToken, "--log-level", "error",
            ] + (try serverArguments(turn)))
        let errors = Pipe()
        server.standardError = errors
        let (line, announced) = try await runAndAwaitAnnouncement(server)
        guard announced == serverPort else {
            server.terminate()
            let said = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            throw TestFailure("the server in the lab did not start: \(line) \(said)")
        }
        return LabServices(lab: lab, names: names, turn: turn, origin: origin, server: server)
    }

    public func stop() async {
        server.terminate()
        turn.stop()
        await origin.stop()
        await names.stop()
    }

    /// Resources the server knows held in `swarm` (from `/v1/graph`).
    public func holders(in swarm: String) async throws -> Int {
        let answer = try await TestHTTP.get(
            "http://\(InternetLab.serviceAddresses[0]):\(Self.serverPort)/v1/graph?swarm=\(swarm)",
            headers: [("Authorization", "Bearer \(Self.operatorToken)")])
        guard answer.status == 200,
            let graph = try JSONSerialization.jsonObject(with: Data(answer.bytes)) as? [String: Any],
            let resources = graph["topResources"] as? [[String: Any]]
        else { return 0 }
        return resources.reduce(0) { $0 + (($1["holders"] as? Int) ?? 0) }
    }

    /// How the server sees the one link of `swarm` (`/v1/graph`): "relayed", "direct" or "none".
    public func route(in swarm: String) async throws -> String {
        guard let links = try? await links(in: swarm) else { return "none" }
        if !links.relayed.isEmpty { return "relayed" }
        return links.all.isEmpty ? "none" : "direct"
    }

    /// The links of `swarm` the server knows (`/v1/graph`), each as its two ids in order,
    /// and those of them through TURN.
    public func links(in swarm: String) async throws -> (all: [[String]], relayed: [[String]]) {
        let answer = try await TestHTTP.get(
            "http://\(InternetLab.serviceAddresses[0]):\(Self.serverPort)/v1/graph?swarm=\(swarm)",
            headers: [("Authorization", "Bearer \(Self.operatorToken)")])
        guard answer.status == 200, let graph = try JSONSerialization.jsonObject(with: Data(answer.bytes)) as? [String: Any] else {
            throw TestFailure("no graph of \(swarm): \(answer.status)")
        }
        return (graph["links"] as? [[String]] ?? [], graph["relayedLinks"] as? [[String]] ?? [])
    }

    /// The bytes `swarm`'s peers reported (`/v1/stats`: `fromOrigin`, `fromPeers`, `served`, `servedRelayed`).
    public func delivery(in swarm: String) async throws -> [String: Int] {
        let answer = try await TestHTTP.get(
            "http://\(InternetLab.serviceAddresses[0]):\(Self.serverPort)/v1/stats", headers: [("Authorization", "Bearer \(Self.operatorToken)")])
        guard answer.status == 200, let stats = try JSONSerialization.jsonObject(with: Data(answer.bytes)) as? [String: Any],
            let swarms = stats["swarms"] as? [[String: Any]]
        else { throw TestFailure("no statistics: \(answer.status)") }
        return swarms.first { $0["swarm"] as? String == swarm }?["delivery"] as? [String: Int] ?? [:]
    }

    /// What one pair did: the second peer fetched what the first got from the origin.
    public struct PairResult: Sendable, CustomStringConvertible {
        public let a: InternetLab.Host
        public let b: InternetLab.Host
        /// Where the second peer's fetch came from ("peer", "origin", …).
        public let source: String
        /// "direct", "relayed", or why the pair never linked.
        public let route: String
        /// The route the server shows for their link in `/v1/graph` ("direct", "relayed",
        /// or "none" when it knows no link).
        public let graphRoute: String
        /// The fetcher's `linked` event: the server's `pair` to the open channel, and the
        /// round trip over it (nil: never linked).
        public let setupMilliseconds: Double?
        public let roundTripMilliseconds: Double?
        public var linked: Bool { setupMilliseconds != nil }
        public var relayed: Bool { route == "relayed" }
        public var description: String {
            "\(a.name) → \(b.name): from \(source), \(route) (graph: \(graphRoute)), setup \(setupMilliseconds.map { "\(Int($0)) ms" } ?? "-"), rtt \(roundTripMilliseconds.map { String(format: "%.1f ms", $0) } ?? "-")"
        }
    }

    /// `a` fetches a resource from the origin; then `b`, in a swarm of their own, fetches it
    /// — it must come from `a`, verified; returns where it came from and the link's route.
    public func exchange(_ a: InternetLab.Host, _ b: InternetLab.Host, swarm: String, path: String) async throws -> PairResult {
        let url = origin.url(path)
        let holder = try LabPeer(in: lab, on: a, server: signalURL, swarm: swarm, fetches: [url])
        defer { holder.stop() }
        let held = try await holder.event("fetch-done", within: .seconds(30))
        guard held["source"] == "origin" else { throw TestFailure("\(a) got \(path) from \(held["source"] ?? "?")") }
        let holderID = try await holder.id()
        let deadline = ContinuousClock.now + .seconds(10)
        while try await holders(in: swarm) < 1 {
            guard ContinuousClock.now < deadline else { throw TestFailure("the server never learnt \(a) holds \(path)") }
            try await Task.sleep(for: .milliseconds(50))
        }
        let fetcher = try LabPeer(in: lab, on: b, server: signalURL, swarm: swarm, fetches: [url])
        defer { fetcher.stop() }
        let fetched = try await fetcher.event("fetch-done", within: .seconds(30))
        guard fetched["digest"] == held["digest"] else { throw TestFailure("\(b) got other bytes than \(a): \(fetched)") }
        // A pair that never linked is a result (the caller says which), not a lost run.
        let linked = try? await fetcher.event("linked", within: .seconds(5)) { $0["peer"] == holderID }
        var graphRoute = "none"
        let known = ContinuousClock.now + .seconds(3)
        while linked != nil, graphRoute == "none", ContinuousClock.now < known {
            graphRoute = try await route(in: swarm)
            if graphRoute == "none" { try await Task.sleep(for: .milliseconds(100)) }
        }
        return PairResult(
            a: a, b: b, source: fetched["source"] ?? "?",
            route: linked?["route"] ?? "never linked: \(fetcher.events.filter { $0["event"] == "unlinked" }) \(fetcher.errors.suffix(6000))",
            graphRoute: graphRoute, setupMilliseconds: linked?["setupMs"].flatMap(Double.init),
            roundTripMilliseconds: linked?["rttMs"].flatMap(Double.init))
    }
}
