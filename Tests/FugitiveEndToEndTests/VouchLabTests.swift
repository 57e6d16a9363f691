import Crypto
import Foundation
import FugitiveServer
import FugitiveServerTesting
import FugitiveTestSupport
import FugitiveWire
import Testing

extension ServerProcessTests {
    /// Vouching against a real resolver that changes its mind: `fugitive server` (the
    /// release build under `make test`) runs in a network namespace whose DNS server is the
    /// test's. An allowlisted name resolves to a public origin once, then to an internal
    /// service on the same port; the server must never fetch from the internal one — it
    /// downloads from the address it checked, not from a second resolution's.
    @Suite("Vouching in a network lab", .serialized, .timeLimit(.minutes(2)))
    struct VouchLabTests {
        static let port = 18_082

        @Test func aRebindingNameNeverReachesTheInternalService() async throws {
            let lab = try NetworkLab(
                hostAddresses: ["11.203.0.1/24", "10.203.0.1/24"], labAddresses: ["11.203.0.2/24", "10.203.0.2/24"],
                nameServer: "11.203.0.1")
            defer { lab.remove() }
            let names = try await LabNameServer(
                host: "11.203.0.1", answers: ["rebind.fugitive.test": [[11, 203, 0, 1], [10, 203, 0, 1]]])
            let body = Array("the public resource".utf8)
            let publicOrigin = try await TestOrigin(
                ["/a": .init(body: body, cacheControl: "max-age=60"), "/b": .init(body: body, cacheControl: "max-age=60")], host: "11.203.0.1")
            let internalService = try await TestOrigin(
                [
                    "/a": .init(body: Array("internal secret".utf8), cacheControl: nil),
                    "/b": .init(body: Array("internal secret".utf8), cacheControl: nil),
                ], host: "10.203.0.1",
                port: publicOrigin.port)
            defer {
                Task {
                    await publicOrigin.stop(); await internalService.stop(); await names.stop()
                }
            }
            let allowed = "http://rebind.fugitive.test:\(publicOrigin.port)"
            let server = lab.process(
                ServerCommandTests.binary.path,
                ["server", "--host", "11.203.0.2", "--port", "\(Self.port)", "--allow-origin", allowed, "--log-level", "error"])
            let (line, announced) = try await runAndAwaitAnnouncement(server)
            defer { server.terminate() }
            try #require(announced == Self.port, "the server in the lab did not start: \(line)")

            let peer = TestPeer("ws://11.203.0.2:\(Self.port)/v1/signal")
            _ = try await peer.join()
            // First look-up public: vouched for the public bytes, fetched from the checked address.
            let first = try await peer.vouch(allowed + "/a", id: 1)
            let digest = ResourceDigest(bytes: Array(SHA256.hash(data: body)))!
            let root = PieceTree(of: body, pieceSize: 1 << 20).root
            let expected = Vouched(requestID: 1, url: allowed + "/a", digest: digest, size: UInt64(body.count), pieceRoot: root, pieceSize: 1 << 20)
            #expect(first == .vouched(expected), "\(first)")
            // Every look-up after it is internal: refused before any fetch.
            let second = try await peer.vouch(allowed + "/b", id: 2)
            guard case .error(let refused) = second else {
                Issue.record("vouched through a rebound name: \(second)")
                return
            }
            #expect(refused.code == .originNotAllowed && refused.message.contains("non-public"), "\(refused)")
            #expect(names.queries("rebind.fugitive.test") >= 2, "the resolver never handed out the internal address")
            #expect(publicOrigin.gets("/a") == 1)
            #expect(internalService.totalGets == 0, "the internal service was reached \(internalService.totalGets) times")
        }
    }
}
