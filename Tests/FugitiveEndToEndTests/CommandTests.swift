import AsyncHTTPClient
import Foundation
import FugitivePeerTesting
import FugitiveServer
import FugitiveServerTesting
import FugitiveTestSupport
import FugitiveWire
import Testing

/// The `fugitive` binary: `get` through a real swarm, and the demo's summary.
@Suite("Commands", .serialized, .timeLimit(.minutes(5)))
struct CommandTests {
    typealias Orchestrator = LiveOrchestrator

    static var binary: URL { Binaries.fugitive }

    /// Runs the binary to its end: exit status, standard output, standard error. The
    /// waiting happens on a thread of its own: blocking one of the (two) cooperative
    /// threads would starve the in-process servers the command talks to.
    static func run(_ arguments: [String]) async throws -> (status: Int32, out: Data, err: String) {
        try #require(FileManager.default.isExecutableFile(atPath: binary.path), "build the fugitive product first")
        let errFile = FileManager.default.temporaryDirectory.appendingPathComponent("fugitive-err-\(UUID().uuidString)")
        _ = FileManager.default.createFile(atPath: errFile.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: errFile) }
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        let out = Pipe()
        process.standardOutput = out
        process.standardError = try FileHandle(forWritingTo: errFile)
        try process.run()
        let data = await waitOffThePool {
            let data = out.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return data
        }
        return (process.terminationStatus, data, (try? String(contentsOf: errFile, encoding: .utf8)) ?? "")
    }

    /// `fugitive` is the user's tool: its help lists the user's commands, and the
    /// benchmarks and test helpers are `fugitive-bench`'s.
    @Test func theHelpListsOnlyUserCommands() async throws {
        let help = try await Self.run(["--help"])
        let text = String(decoding: help.out, as: UTF8.self)
        #expect(help.status == 0)
        for command in ["demo", "get", "server", "peer"] { #expect(text.contains("  \(command)"), "\(command) missing: \(text)") }
        for helper in ["bench", "rtc-peer", "rtc-churn", "floor"] { #expect(!text.contains(helper), "\(helper) listed: \(text)") }
        #expect(try await Self.run(["bench", "wire"]).status != 0)
    }

    @Test func getFetchesFromAPeerAndRefusesTheWrongDigest() async throws {
        let body = TestSwarm.bytes(400_000, seed: 9)
        let origin = try await TestOrigin(["/g.bin": .init(body: body)])
        let server = try await Orchestrator.start()
        let holder = try TestSwarm.start(server: server.url, targetLinks: 2) { $0.swarm = "http://127.0.0.1:\(origin.port)" }
        defer {
            Task {
                await holder.stop(); await server.stop(); await origin.stop()
            }
        }
        _ = try await holder.peer.fetch(origin.url("/g.bin"))
        try await TestSwarm.wait("the holding") { server.server.orchestrator.statistics().holdings == 1 }

        let file = FileManager.default.temporaryDirectory.appendingPathComponent("fugitive-get-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: file) }
        // The swarm defaults to the URL's origin: the holder's swarm.
        let got = try await Self.run(["get", origin.url("/g.bin"), "--server", server.url, "--local-address", "127.0.0.1", "-o", file.path])
        #expect(got.status == 0, "\(got.err)")
        #expect(try [UInt8](Data(contentsOf: file)) == body)
        #expect(got.err.contains("source: peer \(holder.peer.id!)"), "\(got.err)")
        #expect(origin.gets("/g.bin") == 1)

        let wrong = ResourceDigest.sha256(of: [1]).description
        let refused = try await Self.run(["get", origin.url("/g.bin"), "--server", server.url, "--digest", wrong, "--link-wait", "0"])
        #expect(refused.status == 1)
        #expect(refused.err.contains("digestMismatch"), "\(refused.err)")
        #expect(refused.out.isEmpty)
    }

    @Test func theDemoReportsItsOffload() async throws {
        let demo = try await Self.run(["demo", "--json", "--peers", "4", "--resources", "16", "--size", "131072", "--stagger", "200"])
        #expect(demo.status == 0, "\(demo.err)")
        let summary = try #require(try JSONSerialization.jsonObject(with: demo.out) as? [String: Any])
        #expect(summary["peers"] as? Int == 4 && summary["resources"] as? Int == 16)
        #expect(summary["failures"] as? Int == 0)
        let offload = try #require(summary["offloadRatio"] as? Double)
        // The limit for 4 peers is 1 − 1/4: each resource once from the origin.
        #expect(offload >= 0.7 && offload <= 0.75 + 1e-9, "offload \(offload)")
        #expect((summary["originBytes"] as? Int ?? 0) > 0 && (summary["peerBytes"] as? Int ?? 0) > 0)
        for key in ["p50Ms", "p95Ms"] { #expect(summary[key] is Double) }
    }

    @Test func aDamagedStoreIsARuntimeErrorAndCanBeMovedAside() async throws {
        let body = TestSwarm.bytes(10_000, seed: 13)
        let origin = try await TestOrigin(["/s.bin": .init(body: body)])
        defer { Task { await origin.stop() } }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fugitive-damaged-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try Data(repeating: 0x5a, count: 8192).write(to: directory.appendingPathComponent("store.sqlite"))
        let arguments = ["get", origin.url("/s.bin"), "--store", directory.path, "--link-wait", "0", "--server", "ws://127.0.0.1:9/v1/signal"]
        let refused = try await Self.run(arguments)
        #expect(refused.status == 1)
        #expect(refused.err.contains("cannot open the store") && refused.err.contains("--reset-damaged-store"), "\(refused.err)")
        #expect(!refused.err.contains("Usage"), "\(refused.err)")
        let reset = try await Self.run(arguments + ["--reset-damaged-store"])
        #expect(reset.status == 0, "\(reset.err)")
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        #expect(files.contains { $0.hasPrefix("store.sqlite.damaged-") }, "\(files)")
    }
}

/// The dashboard in headless Chromium against a running `fugitive demo --keep`.
@Suite("Dashboard", .serialized, .timeLimit(.minutes(3)))
struct DashboardTests {
    /// A port that was free a moment ago.
    static func freePort() throws -> Int {
        let socket = Foundation.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, length) } }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket, $0, &length) } }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    @Test func theDashboardShowsALiveDemo() async throws {
        let root = CommandTests.binary.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let port = try Self.freePort()
        let demo = Process()
        demo.executableURL = CommandTests.binary
        demo.arguments = ["demo", "--json", "--keep", "--port", "\(port)", "--peers", "4", "--resources", "12", "--size", "131072"]
        demo.standardInput = FileHandle.nullDevice
        demo.standardOutput = FileHandle.nullDevice
        demo.standardError = FileHandle.nullDevice
        try demo.run()
        defer { if demo.isRunning { kill(demo.processIdentifier, SIGKILL) } }
        // The swarm has delivered peer to peer once the server has been told so.
        let stats = "http://127.0.0.1:\(port)/v1/stats"
        let deadline = ContinuousClock.now + .seconds(90)
        while true {
            if let response = try? await HTTPClient.shared.execute(HTTPClientRequest(url: stats), timeout: .seconds(5)),
                var body = try? await response.body.collect(upTo: 1 << 20),
                let object = try? JSONSerialization.jsonObject(with: Data(body.readBytes(length: body.readableBytes) ?? [])) as? [String: Any],
                let delivery = object["delivery"] as? [String: Any],
                (delivery["fromPeers"] as? Int ?? 0) > 0, object["peers"] as? Int == 4
            {
                break
            }
            guard ContinuousClock.now < deadline else { throw TestFailure("the demo never reported deliveries") }
            try await Task.sleep(for: .milliseconds(200))
        }
        let artifacts = root.appendingPathComponent(".build/artifacts")
        try FileManager.default.createDirectory(at: artifacts, withIntermediateDirectories: true)
        let screenshot = artifacts.appendingPathComponent("dashboard.png")
        let check = Process()
        check.executableURL = root.appendingPathComponent(".venv/bin/python")
        check.arguments = [
            root.appendingPathComponent("Tests/Interop/dashboard_check.py").path, "--url", "http://127.0.0.1:\(port)/dashboard", "--screenshot",
            screenshot.path,
        ]
        check.standardInput = FileHandle.nullDevice
        let output = Pipe()
        check.standardOutput = output
        try check.run()
        let data = await waitOffThePool {
            let data = output.fileHandleForReading.readDataToEndOfFile()
            check.waitUntilExit()
            return data
        }
        let report = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any], "\(String(decoding: data, as: UTF8.self))")
        let shown = try #require(report["shown"] as? [String: Any])
        #expect((report["errors"] as? [String])?.isEmpty == true, "\(report["errors"] ?? "")")
        #expect(shown["peers"] as? String == "4")
        #expect((shown["points"] as? Int ?? 0) >= 3)
        #expect(shown["peerBytes"] as? String != "0.0 MB")
        #expect(shown["graphNodes"] as? Int == 4)
        #expect(FileManager.default.fileExists(atPath: screenshot.path))
        print("dashboard screenshot: \(screenshot.path)")

        kill(demo.processIdentifier, SIGTERM)
        await waitOffThePool { demo.waitUntilExit() }
        #expect(demo.terminationStatus == 0)
    }
}
