import Foundation
import FugitiveLab
import FugitiveTestSupport

/// The lab's public services for a swarm test: the lab itself, a name server, coturn, an
/// origin with one resource per pair, and a `fugitive server` in the service namespace.
struct LabServices {
    static let serverPort = 18_090
    static let operatorToken = "lab-operator-token-0123"
    static let turnName = "turn.fugitive.test"

    let lab: InternetLab
    let names: LabNameServer
    let turn: LabTurnServer
    let origin: TestOrigin
    let server: Process
    var signalURL: String { "ws://\(InternetLab.serviceAddresses[0]):\(Self.serverPort)/v1/signal" }

    /// Starts everything but the lab (given, verified by the caller). `serverArguments`
    /// come after `fugitive server --host … --port …` (ICE servers, credentials, a config file).
    static func start(in lab: InternetLab, resources: [String: TestOrigin.Resource], serverArguments: (LabTurnServer) throws -> [String])
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

    func stop() async {
        server.terminate()
        turn.stop()
        await origin.stop()
        await names.stop()
    }

    /// Resources the server knows held in `swarm` (from `/v1/graph`).
    func holders(in swarm: String) async throws -> Int {
        let answer = try await TestHTTP.get(
            "http://\(InternetLab.serviceAddresses[0]):\(Self.serverPort)/v1/graph?swarm=\(swarm)",
            headers: [("Authorization", "Bearer \(Self.operatorToken)")])
        guard answer.status == 200,
            let graph = try JSONSerialization.jsonObject(with: Data(answer.bytes)) as? [String: Any],
            let resources = graph["topResources"] as? [[String: Any]]
        else { return 0 }
        return resources.reduce(0) { $0 + (($1["holders"] as? Int) ?? 0) }
    }

    /// What one pair did: the second peer fetched what the first got from the origin.
    struct PairResult: CustomStringConvertible {
        let a: InternetLab.Host
        let b: InternetLab.Host
        let source: String
        let route: String
        /// The fetching peer's start to its link with the holder (nil: never linked).
        let setup: Duration?
        var description: String { "\(a.name) → \(b.name): from \(source), \(route), linked after \(setup.map { "\($0)" } ?? "-")" }
    }

    /// `a` fetches a resource from the origin; then `b`, in a swarm of their own, fetches it
    /// — it must come from `a`, verified; returns where it came from and the link's route.
    func exchange(_ a: InternetLab.Host, _ b: InternetLab.Host, swarm: String, path: String) async throws -> PairResult {
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
        let started = ContinuousClock.now
        let fetcher = try LabPeer(in: lab, on: b, server: signalURL, swarm: swarm, fetches: [url])
        defer { fetcher.stop() }
        let fetched = try await fetcher.event("fetch-done", within: .seconds(30))
        guard fetched["digest"] == held["digest"] else { throw TestFailure("\(b) got other bytes than \(a): \(fetched)") }
        // A pair that never linked is a result (the test says which), not a lost run.
        let linked = try? await fetcher.event("linked", within: .seconds(5)) { $0["peer"] == holderID }
        let setup = linked == nil ? nil : ContinuousClock.now - started
        return PairResult(
            a: a, b: b, source: fetched["source"] ?? "?",
            route: linked?["route"] ?? "never linked: \(fetcher.events.filter { $0["event"] == "unlinked" }) \(fetcher.errors.suffix(6000))",
            setup: setup)
    }
}
