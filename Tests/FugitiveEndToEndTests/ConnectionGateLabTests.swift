import Foundation
import FugitiveServer
import FugitiveTestSupport
import Testing

extension ServerProcessTests {
    /// The per-address connection cap keys IPv6 clients by their /64 (`ipv6LimitPrefix`),
    /// tried for real: `fugitive server` (the release build under `make test`) runs in a
    /// network namespace, and the test connects from several addresses of one /64 and of
    /// another — what a single IPv6 host can do with the addresses its router gives it.
    @Suite("Connection cap by IPv6 prefix, in a network lab", .serialized, .timeLimit(.minutes(2)))
    struct ConnectionGateLabTests {
        static let port = 18_080

        /// Starts `fugitive server` in `lab` with `settings` as its configuration file and
        /// waits for its "listening" line.
        static func server(in lab: NetworkLab, _ settings: String) async throws -> Process {
            let config = FileManager.default.temporaryDirectory.appendingPathComponent("fugitive-gate-\(UUID().uuidString).json")
            try Data(settings.utf8).write(to: config)
            let process = lab.process(
                ServerCommandTests.binary.path, ["server", "--config", config.path, "--host", "::", "--port", "\(port)", "--log-level", "error"])
            let (line, announced) = try await runAndAwaitAnnouncement(process)
            try? FileManager.default.removeItem(at: config)
            try #require(announced == port, "the server in the lab did not start: \(line)")
            return process
        }

        static func lab() throws -> NetworkLab {
            try NetworkLab(
                hostAddresses: ["fd15::a/64", "fd15::b/64", "fd15::c/64", "fd16::a/64"], labAddresses: ["fd15::1/64", "fd16::1/64"])
        }

        /// Connects from `source` to the server's address in the same /64.
        static func connect(from source: String) async throws -> RawTCPConnection {
            let server = source.hasPrefix("fd15") ? "fd15::1" : "fd16::1"
            return try await waitOffThePool { try RawTCPConnection(to: server, port: port, from: source) }
        }

        @Test func addressesOfOneSlash64ShareOneCap() async throws {
            let lab = try Self.lab()
            defer { lab.remove() }
            let server = try await Self.server(in: lab, #"{"connectionsPerIP": 2, "ipv6LimitPrefix": 64}"#)
            defer { server.terminate() }
            let first = try await Self.connect(from: "fd15::a")
            let second = try await Self.connect(from: "fd15::b")
            try await Task.sleep(for: .milliseconds(300))
            // A third address of the same /64 is the same client: closed at accept.
            let third = try await Self.connect(from: "fd15::c")
            #expect(await waitOffThePool { third.readToEnd(timeout: 3) != nil }, "a third connection from fd15::/64 was kept")
            // Another /64 is another client.
            let other = try await Self.connect(from: "fd16::a")
            #expect(await waitOffThePool { other.readToEnd(timeout: 1) == nil }, "a connection from fd16::/64 was refused")
            #expect(await waitOffThePool { first.readToEnd(timeout: 0.1) == nil && second.readToEnd(timeout: 0.1) == nil })
        }

        @Test func thePrefixIsConfigurable() async throws {
            let lab = try Self.lab()
            defer { lab.remove() }
            let server = try await Self.server(in: lab, #"{"connectionsPerIP": 2, "ipv6LimitPrefix": 128}"#)
            defer { server.terminate() }
            var connections: [RawTCPConnection] = []
            for source in ["fd15::a", "fd15::b", "fd15::c"] { connections.append(try await Self.connect(from: source)) }
            let kept = connections
            #expect(await waitOffThePool { kept.allSatisfy { $0.readToEnd(timeout: 0.7) == nil } }, "/128: each address is its own client")
            // The cap itself still holds per address.
            let again = try await Self.connect(from: "fd15::a")
            let more = try await Self.connect(from: "fd15::a")
            #expect(await waitOffThePool { again.readToEnd(timeout: 0.3) == nil && more.readToEnd(timeout: 3) != nil })
        }
    }
}
