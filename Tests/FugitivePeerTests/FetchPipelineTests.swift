import FugitiveStore
import FugitiveWire
import Logging
import Synchronization
import Testing

@testable import FugitivePeer

/// The fetch pipeline's order and cancellation, over an in-memory swarm and origin.
@Suite("Fetch pipeline", .timeLimit(.minutes(1)))
struct FetchPipelineTests {
    static let logger = Logger(label: "test.pipeline")
    static let url = "https://cdn.example/app.js"
    static let bytes = [UInt8]((0..<50_000).map { UInt8(truncatingIfNeeded: $0 &* 31) })
    static let digest = ResourceDigest.sha256(of: bytes)

    static func pipeline(
        swarm: InMemorySwarm, origin: InMemoryOrigin, store: ResourceStore? = nil, peerPhase: Duration = .seconds(2),
        stallTimeout: Duration = .milliseconds(300)
    ) throws -> FetchPipeline {
        var configuration = FetchPipeline.Configuration()
        configuration.peerPhase = peerPhase
        configuration.stallTimeout = stallTimeout
        return FetchPipeline(
            configuration: configuration, store: try store ?? ResourceStore(logger: logger), swarm: swarm, directory: swarm, origin: origin,
            logger: logger,
            emit: { _ in })
    }

    @Test func theStoreAnswersBeforePeersAndOrigin() async throws {
        let store = try ResourceStore(logger: Self.logger)
        try store.store(Self.bytes, metadata: ResourceMetadata(url: Self.url, contentType: "text/javascript", storedAt: 4e9))
        let swarm = InMemorySwarm(peers: ["a": .serves(Self.bytes)], linked: ["a"])
        let origin = InMemoryOrigin([Self.url: Self.bytes])
        let pipeline = try Self.pipeline(swarm: swarm, origin: origin, store: store)
        let byDigest = try await pipeline.fetch(Self.url, digest: Self.digest, deadline: nil)
        let byURL = try await pipeline.fetch(Self.url, digest: nil, deadline: nil)
        #expect(byDigest.source == .memory && byURL.source == .memory)
        #expect(byURL.bytes == Self.bytes && byURL.contentType == "text/javascript")
        #expect(swarm.log.withLock { $0.asked }.isEmpty)
        #expect(origin.log.withLock { ($0.heads, $0.gets) } == (0, 0))
    }

    @Test func peersComeBeforeTheOriginAndOnlyWithATrustedDigest() async throws {
        // Trusted through the origin's Repr-Digest (HEAD): the peer serves, no GET.
        let swarm = InMemorySwarm(peers: ["a": .serves(Self.bytes)], linked: ["a"])
        let origin = InMemoryOrigin([Self.url: Self.bytes])
        let fetched = try await Self.pipeline(swarm: swarm, origin: origin).fetch(Self.url, digest: nil, deadline: nil)
        #expect(fetched.source == .peer("a") && fetched.bytes == Self.bytes)
        #expect(origin.log.withLock { ($0.heads, $0.gets) } == (1, 0))
        #expect(swarm.log.withLock { $0.announced } == [Holding(digest: Self.digest, url: Self.url, size: UInt64(Self.bytes.count))])

        // No Repr-Digest and no vouch: peers are never asked.
        let untrusting = InMemorySwarm(peers: ["a": .serves(Self.bytes)], linked: ["a"])
        let plainOrigin = InMemoryOrigin([Self.url: Self.bytes], sendsReprDigest: false)
        let fromOrigin = try await Self.pipeline(swarm: untrusting, origin: plainOrigin).fetch(Self.url, digest: nil, deadline: nil)
        #expect(fromOrigin.source == .origin && fromOrigin.bytes == Self.bytes)
        #expect(untrusting.log.withLock { $0.asked }.isEmpty)

        // The server's vouch is trusted too.
        let vouched = InMemorySwarm(peers: ["a": .serves(Self.bytes)], linked: ["a"], vouches: [Self.url: Self.digest])
        let viaVouch = try await Self.pipeline(swarm: vouched, origin: plainOrigin).fetch(Self.url, digest: nil, deadline: nil)
        #expect(viaVouch.source == .peer("a"))
    }

    @Test func everyPeerIsHeldToTheSizeATrustedSourceNamed() async throws {
        // The origin's HEAD: its Content-Length.
        let headed = InMemorySwarm(peers: ["a": .serves(Self.bytes)], linked: ["a"])
        _ = try await Self.pipeline(swarm: headed, origin: InMemoryOrigin([Self.url: Self.bytes])).fetch(Self.url, digest: nil, deadline: nil)
        #expect(headed.log.withLock { $0.expectedSizes } == [Self.bytes.count])
        // The server's vouch: the size of the bytes it hashed (a peer announcing more is
        // refused at its head, before memory is spent on it).
        let plainOrigin = InMemoryOrigin([Self.url: Self.bytes], sendsReprDigest: false)
        let vouched = InMemorySwarm(
            peers: ["a": .serves(Self.bytes)], linked: ["a"], vouches: [Self.url: Self.digest], vouchedSizes: [Self.url: Self.bytes.count])
        _ = try await Self.pipeline(swarm: vouched, origin: plainOrigin).fetch(Self.url, digest: nil, deadline: nil)
        #expect(vouched.log.withLock { $0.expectedSizes } == [Self.bytes.count])
        // The caller's digest alone names no size.
        let given = InMemorySwarm(peers: ["a": .serves(Self.bytes)], linked: ["a"])
        _ = try await Self.pipeline(swarm: given, origin: plainOrigin).fetch(Self.url, digest: Self.digest, deadline: nil)
        #expect(given.log.withLock { $0.expectedSizes } == [nil])
    }

    @Test func holdersThatAreLinkedAreAskedFirstAndTheFirstHeadWins() async throws {
        // b holds it (says the server); a and c are linked too but not asked.
        let swarm = InMemorySwarm(
            peers: ["a": .serves(Self.bytes), "b": .serves(Self.bytes), "c": .serves(Self.bytes)], linked: ["a", "b", "c"], holders: ["b"])
        let fetched = try await Self.pipeline(swarm: swarm, origin: InMemoryOrigin([:])).fetch(Self.url, digest: Self.digest, deadline: nil)
        #expect(fetched.source == .peer("b"))
        #expect(swarm.log.withLock { $0.asked } == ["b"])

        // Nobody named: every link is asked at once; the fastest wins, the rest stop.
        let race = InMemorySwarm(
            peers: ["slow": .serves(Self.bytes, delay: .milliseconds(300)), "fast": .serves(Self.bytes), "none": .misses],
            linked: ["slow", "fast", "none"])
        let won = try await Self.pipeline(swarm: race, origin: InMemoryOrigin([:])).fetch(Self.url, digest: Self.digest, deadline: nil)
        #expect(won.source == .peer("fast"))
        #expect(Set(race.log.withLock { $0.asked }) == ["slow", "fast", "none"])
        // The slow one was cancelled mid-wait, not left to finish and lose.
        #expect(race.log.withLock { $0.cancelled } == ["slow"])
        #expect(race.log.withLock { $0.lostRace }.isEmpty)
    }

    @Test func aLyingPeerIsRecordedAndTheFetchSucceedsElsewhere() async throws {
        let swarm = InMemorySwarm(peers: ["liar": .lies, "honest": .serves(Self.bytes, delay: .milliseconds(100))], linked: ["liar", "honest"])
        let fetched = try await Self.pipeline(swarm: swarm, origin: InMemoryOrigin([:])).fetch(Self.url, digest: Self.digest, deadline: nil)
        #expect(fetched.source == .peer("honest") && fetched.bytes == Self.bytes)
        #expect(swarm.log.withLock { $0.outcomes } == ["liar": .corrupted, "honest": .succeeded])

        // Only liars: the origin delivers.
        let liars = InMemorySwarm(peers: ["liar": .lies], linked: ["liar"])
        let origin = InMemoryOrigin([Self.url: Self.bytes])
        let fallback = try await Self.pipeline(swarm: liars, origin: origin).fetch(Self.url, digest: Self.digest, deadline: nil)
        #expect(fallback.source == .origin && fallback.bytes == Self.bytes)
    }

    @Test func aStalledPeerCostsTheStallTimeoutThenTheOriginDelivers() async throws {
        let swarm = InMemorySwarm(peers: ["stuck": .stalls], linked: ["stuck"])
        let origin = InMemoryOrigin([Self.url: Self.bytes])
        let fetched = try await Self.pipeline(swarm: swarm, origin: origin).fetch(Self.url, digest: Self.digest, deadline: nil)
        #expect(fetched.source == .origin)
        #expect(swarm.log.withLock { $0.outcomes } == ["stuck": .failed])
        #expect(fetched.timings.peers! >= .milliseconds(300))
    }

    @Test func holdersAskedByURLServeOnlyWhenATrustedSourceNamesTheirDigest() async throws {
        // Asked by URL while the HEAD ran: its digest is the trusted one, so the server is
        // not asked again, and the holder it named (not linked yet) serves.
        let origin = InMemoryOrigin([Self.url: Self.bytes])
        let agreeing = InMemorySwarm(
            peers: ["far": .serves(Self.bytes), "near": .misses], linked: ["near"],
            announced: [Self.url: URLHolders(digest: Self.digest, peers: ["far"])])
        let fetched = try await Self.pipeline(swarm: agreeing, origin: origin).fetch(Self.url, digest: nil, deadline: nil)
        #expect(fetched.source == .peer("far"))
        #expect(agreeing.log.withLock { ($0.whoHasByURL, $0.whoHas) } == (1, 0))

        // Peers announced other bytes under the URL: their digest is not trusted, their
        // holder is never asked, and the server is asked by the trusted digest instead.
        let other = ResourceDigest.sha256(of: Array("other".utf8))
        let lying = InMemorySwarm(
            peers: ["liar": .lies, "far": .serves(Self.bytes), "near": .misses], linked: ["near"], holders: ["far"],
            announced: [Self.url: URLHolders(digest: other, peers: ["liar"])])
        let trusted = try await Self.pipeline(swarm: lying, origin: origin).fetch(Self.url, digest: nil, deadline: nil)
        #expect(trusted.source == .peer("far") && trusted.bytes == Self.bytes)
        #expect(lying.log.withLock { ($0.whoHasByURL, $0.whoHas) } == (1, 1))
        #expect(!lying.log.withLock { $0.asked }.contains("liar"))

        // A caller's digest needs no question by URL.
        let given = InMemorySwarm(peers: ["a": .serves(Self.bytes)], linked: ["a"])
        _ = try await Self.pipeline(swarm: given, origin: origin).fetch(Self.url, digest: Self.digest, deadline: nil)
        #expect(given.log.withLock { $0.whoHasByURL } == 0)
    }

    @Test func tierTwoLinksToAHolderThatIsNotLinkedYet() async throws {
        let swarm = InMemorySwarm(peers: ["far": .serves(Self.bytes), "near": .misses], linked: ["near"], holders: ["far"])
        let fetched = try await Self.pipeline(swarm: swarm, origin: InMemoryOrigin([:])).fetch(Self.url, digest: Self.digest, deadline: nil)
        #expect(fetched.source == .peer("far"))
        #expect(swarm.log.withLock { $0.linkRequests } == [["far"]])
    }

    @Test func theOriginMustMatchTheTrustedDigest() async throws {
        let other = [UInt8](repeating: 7, count: 100)
        let origin = InMemoryOrigin([Self.url: other])
        await #expect(throws: FetchError.self) {
            try await Self.pipeline(swarm: InMemorySwarm(peers: [:], linked: []), origin: origin).fetch(Self.url, digest: Self.digest, deadline: nil)
        }
    }

    @Test func cancellingTheFetchCancelsPeersAndTheOrigin() async throws {
        // Cancelled while peers are being asked.
        let swarm = InMemorySwarm(peers: ["slow": .serves(Self.bytes, delay: .seconds(5))], linked: ["slow"])
        let origin = InMemoryOrigin([Self.url: Self.bytes], delay: .seconds(5))
        let pipeline = try Self.pipeline(swarm: swarm, origin: origin)
        let task = Task { try await pipeline.fetch(Self.url, digest: Self.digest, deadline: nil) }
        while swarm.log.withLock({ $0.asked.isEmpty }) { try await Task.sleep(for: .milliseconds(5)) }
        let cancelledAt = ContinuousClock.now
        task.cancel()
        await #expect(throws: FetchError.self) { try await task.value }
        #expect(ContinuousClock.now - cancelledAt < .seconds(2))
        #expect(swarm.log.withLock { $0.cancelled } == ["slow"])
        #expect(origin.log.withLock { $0.gets } == 0)

        // Cancelled while the origin is being asked.
        let plain = InMemoryOrigin([Self.url: Self.bytes], sendsReprDigest: false, delay: .seconds(5))
        let originTask = Task {
            try await Self.pipeline(swarm: InMemorySwarm(peers: [:], linked: []), origin: plain).fetch(Self.url, digest: nil, deadline: nil)
        }
        while plain.log.withLock({ $0.gets == 0 }) { try await Task.sleep(for: .milliseconds(5)) }
        originTask.cancel()
        do {
            _ = try await originTask.value
            Issue.record("a cancelled fetch returned")
        } catch let error as FetchError {
            #expect(error.code == .cancelled)
        }
        #expect(plain.log.withLock { $0.cancelled } == 1)
    }

    @Test func theDeadlineBoundsTheWholeFetch() async throws {
        // The peer phase gets its share, the origin only what is left of the deadline.
        let swarm = InMemorySwarm(peers: ["slow": .serves(Self.bytes, delay: .seconds(5))], linked: ["slow"])
        let origin = InMemoryOrigin([Self.url: Self.bytes], delay: .seconds(5))
        let started = ContinuousClock.now
        do {
            _ = try await Self.pipeline(swarm: swarm, origin: origin).fetch(Self.url, digest: Self.digest, deadline: .milliseconds(400))
            Issue.record("a fetch beat its deadline")
        } catch let error as FetchError {
            #expect(error.code == .deadlineExceeded)
        }
        #expect(ContinuousClock.now - started < .seconds(2))
    }
}

extension FetchPipelineTests {
    /// Correct bytes with `head.y = text/html` came out of the gateway as HTML: the origin's
    /// type wins, and a peer's counts only when it is passive.
    @Test func aPeersContentTypeNeverMakesBytesActive() async throws {
        let swarm = InMemorySwarm(peers: ["a": .serves(Self.bytes, contentType: "text/html")], linked: ["a"])
        let origin = InMemoryOrigin([Self.url: Self.bytes], contentType: "application/json")
        let viaHead = try await Self.pipeline(swarm: swarm, origin: origin).fetch(Self.url, digest: nil, deadline: nil)
        #expect(viaHead.source == .peer("a") && viaHead.contentType == "application/json")
        // No HEAD (the caller knows the digest): only a passive type from the peer is kept.
        for (claimed, expected) in [
            ("text/html; charset=utf-8", "application/octet-stream"), ("image/svg+xml", "application/octet-stream"),
            ("application/xhtml+xml", "application/octet-stream"), ("text/xml", "application/octet-stream"),
            ("image/png", "image/png"), ("video/mp4", "video/mp4"), ("text/css; charset=utf-8", "text/css; charset=utf-8"),
        ] {
            let peers = InMemorySwarm(peers: ["a": .serves(Self.bytes, contentType: claimed)], linked: ["a"])
            let fetched = try await Self.pipeline(swarm: peers, origin: InMemoryOrigin([:])).fetch(Self.url, digest: Self.digest, deadline: nil)
            #expect(fetched.source == .peer("a") && fetched.contentType == expected, "\(claimed) → \(fetched.contentType ?? "nil")")
        }
    }

    @Test func aResourceTooBigForTheDiskIsNotAnnounced() async throws {
        // 50 000 bytes against a 10 000-byte disk: served, never announced (a phantom
        // holding would send others here for a `miss`).
        let store = try ResourceStore(configuration: .init(memoryBytes: 100_000, diskBytes: 10_000), logger: Self.logger)
        let swarm = InMemorySwarm(peers: [:], linked: [])
        let pipeline = try Self.pipeline(swarm: swarm, origin: InMemoryOrigin([Self.url: Self.bytes]), store: store)
        let fetched = try await pipeline.fetch(Self.url, digest: nil, deadline: nil)
        #expect(fetched.bytes == Self.bytes && fetched.source == .origin)
        #expect(swarm.log.withLock { $0.announced }.isEmpty)
    }

}
