import FugitiveRTC
import FugitiveStore
import FugitiveWire
import Logging
import Testing

@testable import FugitivePeer

/// The peer protocol over a real data channel (two peer connections on loopback).
@Suite("Peer link", .serialized, .timeLimit(.minutes(1)))
struct PeerLinkTests {
    static let logger = Logger(label: "test.peerlink")

    /// `a` downloads through `downloader`; `b` serves from `store` through `uploader`.
    struct Pair {
        let loop: GLibEventLoop
        let a: PeerConnection
        let b: PeerConnection
        let downloader: PeerLink
        let uploader: PeerLink
        let store: ResourceStore
        let slots: UploadSlots
        let tasks: [Task<Void, Never>]

        func close() {
            for task in tasks { task.cancel() }
            a.close()
            b.close()
        }
    }

    static func pair(slots: UploadSlots = UploadSlots(), lying: Bool = false) async throws -> Pair {
        let loop = GLibEventLoop()
        let configuration = PeerConnection.Configuration(localAddresses: ["127.0.0.1"])
        let a = try PeerConnection(configuration: configuration, loop: loop, logger: logger)
        let b = try PeerConnection(configuration: configuration, loop: loop, logger: logger)
        try b.setRemoteDescription(SessionDescription(kind: .offer, sdp: try a.createOffer().sdp))
        try a.setRemoteDescription(SessionDescription(kind: .answer, sdp: try b.createAnswer().sdp))
        let trickle = [
            Task { for await candidate in a.localCandidates { b.addRemoteCandidate(candidate) } },
            Task { for await candidate in b.localCandidates { a.addRemoteCandidate(candidate) } },
        ]
        let incoming = Task { () -> DataChannel? in
            for await channel in b.incomingChannels { return channel }
            return nil
        }
        let channel = try await a.createDataChannel(label: "fugitive")
        guard let remote = await incoming.value else { throw PeerLinkTestFailure("no channel arrived") }
        let store = try ResourceStore(logger: logger)
        let downloader = PeerLink(channel: channel, store: try ResourceStore(logger: logger), slots: UploadSlots(), logger: logger)
        let uploader = PeerLink(channel: remote, store: store, slots: slots, logger: logger, corruptsUploadsForTesting: lying)
        let runs = [Task { await downloader.run() }, Task { await uploader.run() }]
        return Pair(loop: loop, a: a, b: b, downloader: downloader, uploader: uploader, store: store, slots: slots, tasks: trickle + runs)
    }

    static func resource(_ size: Int, seed: UInt8 = 1) -> [UInt8] { (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 7) &+ seed } }

    @Test func aResourceArrivesVerifiedAndAnUnknownOneIsAMiss() async throws {
        let pair = try await Self.pair()
        defer { pair.close() }
        let bytes = Self.resource(1_000_000)
        let digest = try pair.store.store(bytes)
        #expect(try await pair.downloader.fetch(digest) == bytes)
        #expect(pair.uploader.statistics.uploadsServed == 1)
        #expect(pair.downloader.statistics.bytesDownloaded == bytes.count)
        // An empty resource too.
        let empty = try pair.store.store([])
        #expect(try await pair.downloader.fetch(empty) == [])
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
        #expect(try await pair.downloader.fetch(small) == Self.resource(1000, seed: 3))
    }
}

struct PeerLinkTestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
