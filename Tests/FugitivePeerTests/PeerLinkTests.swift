import FugitiveRTC
import FugitiveStore
import FugitiveWire
import Logging
import Synchronization
import Testing

@testable import FugitivePeer

/// The peer protocol over a real data channel (two peer connections on loopback).
@Suite("Peer link", .serialized, .timeLimit(.minutes(1)))
struct PeerLinkTests {
    static let logger = Logger(label: "test.peerlink")

    /// `a` downloads through `downloader`; `b` serves from `store` through `uploader`.
    struct Pair {
        let channels: ConnectedChannels
        let downloader: PeerLink
        let uploader: PeerLink
        let store: ResourceStore
        let slots: UploadSlots
        let tasks: [Task<Void, Never>]

        func close() {
            for task in tasks { task.cancel() }
            channels.close()
        }
    }

    static func pair(slots: UploadSlots = UploadSlots(), lying: Bool = false, uploader uploaderConfiguration: PeerLink.Configuration = .init())
        async throws -> Pair
    {
        let channels = try await ConnectedChannels.open(logger: logger)
        let (channel, remote) = (channels.opened, channels.accepted)
        let store = try ResourceStore(logger: logger)
        let downloader = PeerLink(channel: channel, store: try ResourceStore(logger: logger), slots: UploadSlots(), logger: logger)
        let uploader = PeerLink(
            channel: remote, store: store, slots: slots, configuration: uploaderConfiguration, logger: logger,
            uploadFaultForTesting: UploadFault(corrupts: lying))
        let runs = [Task { await downloader.run() }, Task { await uploader.run() }]
        return Pair(channels: channels, downloader: downloader, uploader: uploader, store: store, slots: slots, tasks: runs)
    }

    static func resource(_ size: Int, seed: UInt8 = 1) -> [UInt8] { (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 7) &+ seed } }

    @Test func aResourceArrivesVerifiedAndAnUnknownOneIsAMiss() async throws {
        let pair = try await Self.pair()
        defer { pair.close() }
        let bytes = Self.resource(1_000_000)
        let digest = try pair.store.store(bytes)
        let reports = Mutex<[FetchProgress.Report]>([])
        let download = try await pair.downloader.fetch(digest, progress: { report in reports.withLock { $0.append(report) } })
        #expect(download.bytes == bytes)
        // Progress chunk by chunk, up to the whole transfer.
        let seen = reports.withLock { $0 }
        #expect(seen.count == (bytes.count + 16_360) / 16_361)
        #expect(seen.last == FetchProgress.Report(receivedBytes: bytes.count, totalBytes: bytes.count, source: "peer"))
        #expect(pair.uploader.statistics.uploadsServed == 1)
        #expect(pair.downloader.statistics.bytesDownloaded == bytes.count)
        // An empty resource too.
        let empty = try pair.store.store([])
        #expect(try await pair.downloader.fetch(empty).bytes == [])
        let unknown = ResourceDigest.sha256(of: [1, 2, 3])
        await #expect(throws: PeerLinkError(.miss, "the peer does not hold \(unknown)")) { try await pair.downloader.fetch(unknown) }
    }

    @Test func aLyingPeerIsCaughtByTheDigest() async throws {
        let pair = try await Self.pair(lying: true)
        defer { pair.close() }
        let digest = try pair.store.store(Self.resource(100_000))
        do {
            _ = try await pair.downloader.fetch(digest)
            Issue.record("corrupted bytes were accepted")
        } catch {
            #expect(error.code == .corrupted)
        }
    }

    @Test func busyBeyondTheSlotsAndACancelledFetchFreesItsSlot() async throws {
        let pair = try await Self.pair(slots: UploadSlots(total: 1, perLink: 1))
        defer { pair.close() }
        let big = try pair.store.store(Self.resource(8_000_000, seed: 2))
        let small = try pair.store.store(Self.resource(1000, seed: 3))
        let first = Task { try await pair.downloader.fetch(big) }
        // Wait until the upload holds the only slot.
        while pair.slots.inUse == 0 { try await Task.sleep(for: .milliseconds(5)) }
        do {
            _ = try await pair.downloader.fetch(small)
            Issue.record("a second upload got past the slot limit")
        } catch {
            #expect(error.code == .busy)
        }
        first.cancel()
        let deadline = ContinuousClock.now + .seconds(5)
        while pair.slots.inUse > 0 && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        #expect(pair.slots.inUse == 0)
        // The slot serves again.
        #expect(try await pair.downloader.fetch(small).bytes == Self.resource(1000, seed: 3))
    }
    @Test func compressibleContentTravelsDeflatedAndArrivesIdentical() async throws {
        let pair = try await Self.pair()
        defer { pair.close() }
        let text = Array(String(repeating: "{\"peer\": \"fugitive\", \"share\": true}\n", count: 5000).utf8)
        let url = "https://cdn.example/data.json"
        let digest = try pair.store.store(text, metadata: ResourceMetadata(url: url, contentType: "application/json", storedAt: 0))
        let download = try await pair.downloader.fetch(digest, url: url)
        #expect(download.bytes == text)
        #expect(download.contentType == "application/json")
        #expect(download.transferredBytes < text.count / 5)
        #expect(pair.uploader.statistics.deflatedContentSent == text.count)
        // Random bytes do not compress: they go as they are, even with a text type.
        let noise = (0..<50_000).map { _ in UInt8.random(in: 0...255) }
        let noisy = try pair.store.store(noise, metadata: ResourceMetadata(url: url + "?noise", contentType: "text/plain", storedAt: 0))
        #expect(try await pair.downloader.fetch(noisy, url: url + "?noise").transferredBytes == noise.count)
    }

    @Test func deflateBombsAndShortStreamsAreRefused() throws {
        let zeros = [UInt8](repeating: 0, count: 1_000_000)
        let deflated = try #require(TransferCompression.deflateIfWorthIt(zeros, contentType: "text/plain"))
        #expect(throws: PeerLinkError.self) { try TransferCompression.inflate(deflated, contentLength: 1000) }
        #expect(throws: PeerLinkError.self) { try TransferCompression.inflate(deflated, contentLength: 2_000_000) }
        #expect(try TransferCompression.inflate(deflated, contentLength: zeros.count) == zeros)
        #expect(!TransferCompression.isCompressible("video/mp4") && TransferCompression.isCompressible("text/html; charset=utf-8"))
    }

    @Test func aTransferThatStopsMovingStallsAndTheRoundTripIsMeasured() async throws {
        // 2 KB/s: the first 16 KiB chunk alone takes seconds.
        let pair = try await Self.pair(uploader: .init(uploadLimit: TokenBucket(bytesPerSecond: 2_000, burst: 16_384)))
        defer { pair.close() }
        let rtt = try #require(await pair.downloader.measureRoundTrip())
        #expect(rtt < .seconds(1))
        let digest = try pair.store.store(Self.resource(200_000, seed: 9))
        let started = ContinuousClock.now
        do {
            _ = try await pair.downloader.fetch(digest, stallTimeout: .milliseconds(500))
            Issue.record("a stalled transfer finished")
        } catch {
            #expect(error.code == .stalled)
        }
        #expect(ContinuousClock.now - started < .seconds(5))
        // The uploader was told to stop: its slot frees.
        let deadline = ContinuousClock.now + .seconds(5)
        while pair.slots.inUse > 0 && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        #expect(pair.slots.inUse == 0)
    }
}
