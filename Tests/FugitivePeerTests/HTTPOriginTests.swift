import FugitivePeerTesting
import FugitiveTestSupport
import FugitiveWire
import Synchronization
import Testing

@testable import FugitivePeer

/// The origin client against a real HTTP server.
@Suite("HTTP origin", .timeLimit(.minutes(1)))
struct HTTPOriginTests {
    @Test func headAndGetCarryTheDigestAndCachingHeaders() async throws {
        let body = TestSwarm.text(10_000)
        let origin = try await TestOrigin(["/a.txt": .init(body: body, contentType: "text/plain", cacheControl: "public, max-age=120")])
        defer { Task { await origin.stop() } }
        let client = HTTPOrigin()
        let head = try await client.head(origin.url("/a.txt"), timeout: .seconds(5))
        #expect(head.bytes.isEmpty && head.reprDigest == ResourceDigest.sha256(of: body))
        let reports = Mutex<[FetchProgress.Report]>([])
        let get = try await client.get(origin.url("/a.txt"), timeout: .seconds(5), maxSize: 1 << 20) { report in
            reports.withLock { $0.append(report) }
        }
        #expect(reports.withLock { $0.last } == FetchProgress.Report(receivedBytes: body.count, totalBytes: body.count, source: "origin"))
        #expect(get.bytes == body && get.contentType == "text/plain" && get.maxAge == 120)
        await #expect(throws: FetchError(.tooLarge, "\(origin.url("/a.txt")) is 10000 bytes, over the limit of 100")) {
            try await client.get(origin.url("/a.txt"), timeout: .seconds(5), maxSize: 100)
        }
    }

    @Test func failuresAreNamed() async throws {
        let origin = try await TestOrigin(["/slow": .init(body: [1, 2, 3], delay: .seconds(3))])
        let port = origin.port
        let client = HTTPOrigin()
        try await expectCode(.originStatus) { try await client.get(origin.url("/missing"), timeout: .seconds(5), maxSize: 100) }
        try await expectCode(.deadlineExceeded) { try await client.get(origin.url("/slow"), timeout: .milliseconds(300), maxSize: 100) }
        try await expectCode(.invalidURL) { try await client.get("file:///etc/passwd", timeout: .seconds(1), maxSize: 100) }
        await origin.stop()
        // Nobody listens there any more.
        try await expectCode(.originUnreachable) { try await client.get("http://127.0.0.1:\(port)/slow", timeout: .seconds(5), maxSize: 100) }
    }

    @Test func originsOfURLs() {
        #expect(Peer.origin(of: "HTTPS://CDN.Example:8443/a/b?c#d") == "https://cdn.example:8443")
        #expect(Peer.origin(of: "http://cdn.example") == "http://cdn.example")
        for refused in ["ftp://cdn.example/x", "http:///x", "http://user@cdn.example/x", "cdn.example/x"] {
            #expect(Peer.origin(of: refused) == nil, "\(refused)")
        }
    }

    @Test func reprDigestHeadersParse() {
        let digest = ResourceDigest.sha256(of: [1, 2, 3])
        #expect(ReprDigest.sha256(fromHeader: ReprDigest.headerValue(for: digest)) == digest)
        #expect(ReprDigest.sha256(fromHeader: "sha-512=:AAAA:, sha-256=\(ReprDigest.headerValue(for: digest).dropFirst(8))") == digest)
        #expect(ReprDigest.sha256(fromHeader: "sha-256=notbase64") == nil)
        #expect(ReprDigest.sha256(fromHeader: "sha-256=:AAAA:") == nil)
    }

    private func expectCode(_ code: FetchError.Code, _ body: () async throws -> OriginResponse) async throws {
        do {
            _ = try await body()
            Issue.record("expected \(code)")
        } catch let error as FetchError {
            #expect(error.code == code, "\(error)")
        }
    }
}
