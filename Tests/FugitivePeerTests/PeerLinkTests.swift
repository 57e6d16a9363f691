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

    static func pair(
        slots: UploadSlots = UploadSlots(), lying: Bool = false, uploader uploaderConfiguration: PeerLink.Configuration = .init(),
        downloader downloaderConfiguration: PeerLink.Configuration = .init()
    ) async throws -> Pair {
        let channels = try await ConnectedChannels.open(logger: logger)
        let (channel, remote) = (channels.opened, channels.accepted)
        let store = try ResourceStore(logger: logger)
        let downloader = PeerLink(
            channel: channel, store: try ResourceStore(logger: logger), slots: UploadSlots(), configuration: downloaderConfiguration,
            logger: logger)
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
        /// Inflates the whole stream at once, as the download does chunk by chunk.
        func inflate(contentLength: Int) throws -> [UInt8] {
            let inflater = try StreamingInflater(contentLength: contentLength)
            try inflater.feed(deflated, charge: { _ in true })
            let (bytes, digest) = try inflater.finish()
            #expect(digest == ResourceDigest.sha256(of: bytes))
            return bytes
        }
        #expect(throws: PeerLinkError.self) { try inflate(contentLength: 1000) }
        #expect(throws: PeerLinkError.self) { try inflate(contentLength: 2_000_000) }
        #expect(try inflate(contentLength: zeros.count) == zeros)
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

    @Test func pingsGoOnTheControlChannelOnceTheOtherSideReadsIt() async throws {
        let pair = try await Self.pair()
        defer { pair.close() }
        // No control channel yet, as with an older peer: the ping goes on the main channel.
        #expect(try #require(await pair.downloader.measureRoundTrip()) < .seconds(1))
        #expect(!pair.downloader.isControlConfirmed)
        let (a, b) = (pair.channels.connections[0], pair.channels.connections[1])
        let incoming = Task { () -> DataChannel? in
            for await channel in b.incomingChannels { return channel }
            return nil
        }
        let control = try await a.createDataChannel(label: PeerLink.controlLabel)
        let remote = try #require(await incoming.value)
        pair.downloader.attachControl(control)
        pair.uploader.attachControl(remote)
        let deadline = ContinuousClock.now + .seconds(10)
        // Confirmed both ways, and both first pings answered (each side's control channel
        // has sent its ping and its pong to the other's, and had the other's two).
        let settled = { (channel: DataChannel) in channel.statistics.receivedMessages >= 2 && channel.statistics.sentMessages >= 2 }
        while !(pair.downloader.isControlConfirmed && pair.uploader.isControlConfirmed && settled(control) && settled(remote)),
            ContinuousClock.now < deadline
        {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(pair.downloader.isControlConfirmed && pair.uploader.isControlConfirmed)
        // Now the ping and its pong cross on the control channel, none on the main one.
        let main = pair.channels.opened.statistics
        let before = control.statistics
        #expect(try #require(await pair.downloader.measureRoundTrip()) < .seconds(1))
        // (Counted a moment after the message went, or reached its reader.)
        let counted = ContinuousClock.now + .seconds(2)
        while control.statistics.receivedMessages < before.receivedMessages + 1 || control.statistics.sentMessages < before.sentMessages + 1,
            ContinuousClock.now < counted
        {
            try await Task.sleep(for: .milliseconds(5))
        }
        #expect(control.statistics.sentMessages == before.sentMessages + 1)
        #expect(control.statistics.receivedMessages == before.receivedMessages + 1)
        #expect(pair.channels.opened.statistics.sentMessages == main.sentMessages)
        // A second control channel is refused; the first goes on working.
        let extra = Task { () -> DataChannel? in
            for await channel in b.incomingChannels { return channel }
            return nil
        }
        let another = try await a.createDataChannel(label: PeerLink.controlLabel)
        pair.downloader.attachControl(another)
        _ = await extra.value
        #expect(another.isClosed)
        #expect(await pair.downloader.measureRoundTrip() != nil)
    }

    /// The download limit is kept on the wire: the downloader reads no faster than its
    /// limit, so the uploader's sends wait — it never runs ahead by more than the buffers
    /// between the two (the reader's inbox, the connection's receive buffer, usrsctp's
    /// receive and send buffers), where before it sent the whole resource at once.
    @Test func theDownloadLimitHoldsTheSenderToItsRate() async throws {
        let rate = 4 << 20
        let pair = try await Self.pair(downloader: .init(downloadLimit: TokenBucket(bytesPerSecond: rate)))
        defer { pair.close() }
        let size = 24 << 20
        let digest = try pair.store.store(Self.resource(size))
        let started = ContinuousClock.now
        let download = Task { try await pair.downloader.fetch(digest) }
        // Inbox 1 MiB, receive buffer 1 MiB, usrsctp 4 + 4 MiB, the bucket's burst 1 MiB.
        let ahead = 11 << 20 + 512 << 10
        var samples: [String] = []
        for _ in 0..<4 {
            try await Task.sleep(for: .milliseconds(500))
            let elapsed = (ContinuousClock.now - started).seconds
            let sent = pair.channels.accepted.statistics.sentBytes
            samples.append("\(String(format: "%.1f", elapsed)) s: \(sent >> 20) MiB")
            #expect(Double(sent) <= Double(rate) * elapsed + Double(ahead), "the uploader ran ahead of the limit at \(elapsed) s: \(sent) bytes")
        }
        let bytes = try await download.value.bytes
        let took = ContinuousClock.now - started
        print("download limit \(rate >> 20) MiB/s: uploader sent \(samples.joined(separator: ", ")); \(size >> 20) MiB took \(took)")
        #expect(bytes.count == size)
        #expect(took >= .seconds(Double(size - ahead) / Double(rate)))
    }
}
