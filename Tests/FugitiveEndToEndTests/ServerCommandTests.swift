import Foundation
import FugitiveServer
import FugitiveServerTesting
import FugitiveTestSupport
import FugitiveWire
import Testing

extension ServerProcessTests {
    /// The real `fugitive server` binary: configuration file and flags, the announced port,
    /// and graceful shutdown on SIGTERM (peers are told before the process exits).
    @Suite("fugitive server (the command)")
    struct ServerCommandTests {
        static var binary: URL { Binaries.fugitive }

        @Test func runsFromAConfigFileAndStopsGracefullyOnSIGTERM() async throws {
            try #require(FileManager.default.isExecutableFile(atPath: Self.binary.path), "build the fugitive product first")
            let config = FileManager.default.temporaryDirectory.appendingPathComponent("fugitive-\(UUID().uuidString).json")
            try Data(#"{"heartbeatInterval": 9, "iceServers": [{"u": ["stun:stun.example.org"]}]}"#.utf8).write(to: config)
            defer { try? FileManager.default.removeItem(at: config) }
            let process = Process()
            process.executableURL = Self.binary
            process.arguments = ["server", "--config", config.path, "--port", "0", "--log-level", "error"]
            let announced = try await runAndAwaitAnnouncement(process)
            defer { if process.isRunning { process.terminate() } }
            try #require(announced.port != nil, "the server did not announce a port: \(announced.line)")
            let url = try #require(announced.line.split(separator: " ").last.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) })
            #expect(url.hasPrefix("ws://127.0.0.1:") && url.hasSuffix("/v1/signal"))

            let peer = TestPeer(url)
            let welcome = try await peer.join()
            #expect(welcome.heartbeatMillis == 9000)  // from the file
            #expect(welcome.iceServers.first?.urls == ["stun:stun.example.org"])

            process.terminate()  // SIGTERM
            let error = try await peer.expect { if case .error(let e) = $0 { e } else { nil } }
            #expect(error.code == .shuttingDown)
            process.waitUntilExit()
            #expect(process.terminationReason == .exit && process.terminationStatus == 0)
        }

        /// TURN as deployments give it: the file's servers and the flags' (with their
        /// credentials) together; a TURN flag without credentials is refused, not passed on.
        @Test func iceServerFlagsAddToTheFileWithTheirCredentials() async throws {
            let config = FileManager.default.temporaryDirectory.appendingPathComponent("fugitive-\(UUID().uuidString).json")
            try Data(#"{"iceServers": [{"u": ["stun:192.0.2.1:3478"]}]}"#.utf8).write(to: config)
            defer { try? FileManager.default.removeItem(at: config) }
            let process = Process()
            process.executableURL = Self.binary
            process.arguments = [
                "server", "--config", config.path, "--port", "0", "--log-level", "error", "--ice-server", "stun:stun.example.org",
                "--ice-server", "turn:turn.example.org:3478?transport=tcp", "--ice-server", "turns:turn.example.org:443",
                "--ice-username", "user", "--ice-credential", "secret",
            ]
            let announced = try await runAndAwaitAnnouncement(process)
            defer { if process.isRunning { process.terminate() } }
            let port = try #require(announced.port, "the server did not announce a port: \(announced.line)")
            let welcome = try await TestPeer("ws://127.0.0.1:\(port)/v1/signal").join()
            #expect(
                welcome.iceServers == [
                    ICEServer(urls: ["stun:192.0.2.1:3478"]), ICEServer(urls: ["stun:stun.example.org"]),
                    ICEServer(
                        urls: ["turn:turn.example.org:3478?transport=tcp", "turns:turn.example.org:443"], username: "user", credential: "secret"),
                ])

            let refused = Process()
            refused.executableURL = Self.binary
            refused.arguments = ["server", "--port", "0", "--ice-server", "turn:turn.example.org"]
            let errors = Pipe()
            refused.standardError = errors
            refused.standardOutput = FileHandle.nullDevice
            try refused.run()
            let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            refused.waitUntilExit()
            #expect(refused.terminationStatus != 0)
            #expect(message.contains("--ice-username"), "\(message)")
        }

        @Test func aBadConfigFileIsRefusedWithTheReason() throws {
            let config = FileManager.default.temporaryDirectory.appendingPathComponent("fugitive-\(UUID().uuidString).json")
            try Data(#"{"heartbeatTimeout": 1, "heartbeatInterval": 5}"#.utf8).write(to: config)
            defer { try? FileManager.default.removeItem(at: config) }
            let process = Process()
            process.executableURL = Self.binary
            process.arguments = ["server", "--config", config.path, "--port", "0"]
            let errors = Pipe()
            process.standardError = errors
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            process.waitUntilExit()
            let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            #expect(process.terminationStatus != 0)
            #expect(message.contains("heartbeatTimeout"))
        }
    }
}
