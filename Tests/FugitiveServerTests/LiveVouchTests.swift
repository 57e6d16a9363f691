import Crypto
import FugitiveServerTesting
import FugitiveTestSupport
import FugitiveWire
import Testing

@testable import FugitiveServer
extension LiveServerTests {
    /// Server-assisted integrity against a real in-test origin, and the SSRF refusals.
    @Suite("Live server: vouching")
    struct LiveVouchTests {
        static let body = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }

        @Test func anAllowlistedOriginIsFetchedOnceAndCached() async throws {
            let origin = try await TestOrigin([
                "/a.bin": .init(body: Self.body, cacheControl: "public, max-age=60"),
                "/nostore.bin": .init(body: [1, 2, 3], cacheControl: "no-store"),
            ])
            defer { Task { await origin.stop() } }
            try await LiveServer.with({ $0.vouch = VouchConfiguration(allowedOrigins: [origin.url], allowPrivateAddresses: true) }) { server in
                let a = TestPeer(server.signalURL)
                _ = try await a.join()
                let expected = ResourceDigest(bytes: Array(SHA256.hash(data: Self.body)))!
                let url = origin.url + "/a.bin"
                // With the root of its piece tree (1 MiB pieces), computed as the bytes arrived.
                let root = PieceTree(of: Self.body, pieceSize: 1 << 20).root
                let answer = { (id: UInt32) in
                    ServerMessage.vouched(Vouched(requestID: id, url: url, digest: expected, size: 100_000, pieceRoot: root, pieceSize: 1 << 20))
                }
                #expect(try await a.vouch(url, id: 1) == answer(1))
                #expect(try await a.vouch(url, id: 2) == answer(2))
                #expect(origin.gets("/a.bin") == 1)
                // no-store is kept only briefly (minimumTTL, 5 s): a burst costs one fetch.
                _ = try await a.vouch(origin.url + "/nostore.bin", id: 3)
                _ = try await a.vouch(origin.url + "/nostore.bin", id: 4)
                #expect(origin.gets("/nostore.bin") == 1)
                // A missing resource is an origin failure, with the request id.
                guard case .error(let missing) = try await a.vouch(origin.url + "/missing", id: 5) else {
                    Issue.record("expected an error"); return
                }
                #expect(missing.code == .originFailed)
            }
            await origin.stop()
        }

        @Test func otherOriginsAndPrivateAddressesAreRefused() async throws {
            let origin = try await TestOrigin(["/a.bin": .init(body: Self.body, cacheControl: nil)])
            // Allowlisted, but loopback without the explicit opt-in: refused before any fetch.
            try await LiveServer.with({ $0.vouch = VouchConfiguration(allowedOrigins: [origin.url, "http://localhost:\(origin.port)"]) }) { server in
                let a = TestPeer(server.signalURL)
                _ = try await a.join()
                for (id, url) in [
                    origin.url + "/a.bin",  // loopback literal
                    "http://localhost:\(origin.port)/a.bin",  // a name resolving to loopback
                    "http://127.0.0.1:1/a.bin",  // another port: another origin
                    "http://169.254.169.254/latest/meta-data/",  // cloud metadata
                    "file:///etc/passwd",
                    "http://user@127.0.0.1:\(origin.port)/a.bin",
                ].enumerated() {
                    guard case .error(let refused) = try await a.vouch(url, id: UInt32(id)) else {
                        Issue.record("\(url) was vouched for"); continue
                    }
                    #expect(refused.code == .originNotAllowed, "\(url): \(refused.message)")
                }
                #expect(origin.gets("/a.bin") == 0)
            }
            // A server with no allowlist vouches for nothing.
            try await LiveServer.with { server in
                let a = TestPeer(server.signalURL)
                _ = try await a.join()
                guard case .error(let refused) = try await a.vouch(origin.url + "/a.bin", id: 9) else {
                    Issue.record("vouched without an allowlist"); return
                }
                #expect(refused.code == .originNotAllowed)
            }
            await origin.stop()
        }

        @Test func originPolicyClassifiesAddresses() {
            for special in ["127.0.0.1", "10.2.3.4", "172.20.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0", "224.0.0.1"] {
                #expect(PublicAddress.isNonPublic(special.split(separator: ".").map { UInt8($0)! }), "\(special)")
            }
            for publicAddress in ["93.184.216.34", "8.8.8.8", "172.32.0.1", "100.128.0.1"] {
                #expect(!PublicAddress.isNonPublic(publicAddress.split(separator: ".").map { UInt8($0)! }), "\(publicAddress)")
            }
            var loopback6 = [UInt8](repeating: 0, count: 16)
            loopback6[15] = 1
            #expect(PublicAddress.isNonPublic(loopback6))
            #expect(PublicAddress.isNonPublic([0xfe, 0x80] + [UInt8](repeating: 0, count: 14)))
            #expect(PublicAddress.isNonPublic([0xfd, 0x00] + [UInt8](repeating: 0, count: 14)))
            #expect(PublicAddress.isNonPublic([UInt8](repeating: 0, count: 10) + [0xff, 0xff, 10, 0, 0, 1]))
            #expect(!PublicAddress.isNonPublic([0x26, 0x06, 0x28, 0x00] + [UInt8](repeating: 0, count: 11) + [1]))
            #expect(OriginPolicy.Origin("HTTPS://Example.org/x?y") == OriginPolicy.Origin("https://example.org:443"))
            #expect(OriginPolicy.Origin("ftp://example.org") == nil)
            #expect(OriginPolicy.Origin("http://[::1]:8080/a")?.port == 8080)
        }

        @Test func cacheLifetimeFollowsCacheControl() {
            #expect(DigestVoucher.cacheLifetime(cacheControl: ["public, max-age=60"], default: .seconds(5)) == .seconds(60))
            #expect(DigestVoucher.cacheLifetime(cacheControl: ["max-age=60, s-maxage=600"], default: .seconds(5)) == .seconds(600))
            #expect(DigestVoucher.cacheLifetime(cacheControl: ["no-store"], default: .seconds(5)) == .zero)
            #expect(DigestVoucher.cacheLifetime(cacheControl: ["private, max-age=60"], default: .seconds(5)) == .zero)
            #expect(DigestVoucher.cacheLifetime(cacheControl: [], default: .seconds(5)) == .seconds(5))
        }
    }
}
