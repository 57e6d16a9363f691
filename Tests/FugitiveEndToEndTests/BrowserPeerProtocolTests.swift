import Foundation
import FugitivePeerTesting
import FugitiveRTC
import FugitiveServerTesting
import FugitiveTestSupport
import FugitiveWire
import NIOCore
import Synchronization
import Testing

@testable import FugitivePeer

/// The browser peer against a native peer that misbehaves on purpose: the native peer's
/// own link to the page, driven by hand (raw requests, a text message, a response for a
/// request the page never made), and a native uploader that announces an active type.
extension BrowserPeerTests {
    /// The link a native peer holds to `page`, once it is open.
    static func link(of peer: RunningPeer, to page: String) async throws -> PeerLink {
        var found: PeerLink?
        try await TestSwarm.wait("the native peer's link to \(page)") {
            found = peer.peer.links.link(to: PeerID(page))
            return found != nil
        }
        return try #require(found)
    }

    /// Collects what arrives for one download id (chunks counted, not kept) until `stop`.
    /// A holding one reads nothing until ``release()``, with room for one message: the
    /// link's reader waits behind it, and through the channel so does the page's upload.
    final class Answers: Sendable {
        let inbox: DownloadInbox
        let id: UInt32
        private final class Kept: Sendable { let messages = Mutex<[PeerMessage]>([]) }
        private let kept = Kept()
        private let gate: AsyncStream<Void>.Continuation
        private let task: Task<Void, Never>

        init(on link: PeerLink, holding: Bool = false) {
            inbox = DownloadInbox(capacity: holding ? 1 : 64)
            id = link.registerDownload(inbox)
            let (opened, gate) = AsyncStream<Void>.makeStream()
            self.gate = gate
            if !holding { gate.finish() }
            task = Task { [inbox, kept] in
                for await _ in opened {}
                while let message = await inbox.next() {
                    if case .chunk = message { continue }
                    kept.messages.withLock { $0.append(message) }
                }
            }
        }

        /// What arrived so far, chunks left out.
        var messages: [PeerMessage] { kept.messages.withLock { $0 } }

        func release() { gate.finish() }

        func stop(_ link: PeerLink) async -> [PeerMessage] {
            release()
            link.unregisterDownload(id)
            await task.value
            return messages
        }

        static func errorCodes(_ messages: [PeerMessage]) -> [WireErrorCode] {
            messages.compactMap { if case .error(let error) = $0 { error.code } else { nil } }
        }
    }

    @Test func theBrowserPeerRefusesWhatTheProtocolRefusesAndIgnoresText() async throws {
        let body = TestSwarm.bytes(8_000_000, seed: 21)
        let setup = try await Setup.start(["/held.bin": .init(body: body)])
        let native = try TestSwarm.start(server: setup.server.url, targetLinks: 1) { $0.swarm = setup.swarm }
        defer {
            Task {
                await native.stop(); await setup.stop()
            }
        }
        let page = try await setup.open("A", ["targetLinks": 1, "uploadSlotsPerPeer": 2])
        #expect(try await setup.fetch("A", "/held.bin")["source"] as? String == "origin")
        let link = try await Self.link(of: native, to: page)
        // The page reads and answers the control channel (PROTOCOL.md): pings go there.
        try await TestSwarm.wait("the page to answer on the control channel") { link.isControlConfirmed }
        let codec = WireCodec(limits: .peerLink)
        func send(_ message: PeerMessage) async throws { try await link.channel.send(.binary(Array(buffer: codec.encode(message)))) }
        let digest = ResourceDigest.sha256(of: body)

        // Text is no part of the protocol: ignored, and the link goes on.
        try await link.channel.send(.text("not a frame"))
        // A request id twice, then two more: the page's share for this link is two. The
        // first is held, so neither of the page's uploads can end (8 MB each, more than the
        // page's buffer, the channel's window and the link's inbox hold) before the page
        // has read the third request, however slowly the requests arrive.
        let (first, second, third) = (Answers(on: link, holding: true), Answers(on: link), Answers(on: link))
        for answers in [first, first, second, third] { try await send(.request(Request(id: answers.id, digest: digest))) }
        // A head for a request the page never made.
        link.state.withLock { $0.nextRequest = 1_000_000 }
        let unknown = Answers(on: link)
        try await send(.head(ResponseHead(id: unknown.id, transferLength: 1, contentLength: 1, encoding: .identity, chunkSize: 1)))

        // The page's answers queue behind the first upload's chunks until it is read.
        try await Task.sleep(for: .seconds(1))
        first.release()
        try await TestSwarm.wait("the page's answers to the third request and the unknown head") {
            !Answers.errorCodes(third.messages).isEmpty && !Answers.errorCodes(unknown.messages).isEmpty
                && first.messages.contains { if case .head = $0 { true } else { false } }
        }
        let (a, b, c, d) = (await first.stop(link), await second.stop(link), await third.stop(link), await unknown.stop(link))
        #expect(Answers.errorCodes(a) == [.unexpectedMessage], "\(a)")
        #expect(a.contains { if case .head = $0 { true } else { false } }, "\(a)")
        #expect(b.count == 1 && Answers.errorCodes(b).isEmpty, "\(b)")
        #expect(Answers.errorCodes(c) == [.tooManyRequests], "\(c)")
        #expect(Answers.errorCodes(d) == [.unknownRequest], "\(d)")
        #expect(!link.isClosed)
        let errors = try await setup.stats("A")["pageErrors"] as? [String]
        #expect(errors?.isEmpty == true, "\(errors ?? [])")
    }

    @Test func chunksInAnyOrderAreAssembledWhileTheBufferGrows() async throws {
        // 3 MB, larger than the page's first buffer (1 MiB): it grows as chunks arrive.
        let body = TestSwarm.bytes(3_000_000, seed: 24)
        let setup = try await Setup.start(["/backwards.bin": .init(body: body)])
        let native = try TestSwarm.start(server: setup.server.url, targetLinks: 1, fault: UploadFault(reversesChunks: true)) {
            $0.swarm = setup.swarm
        }
        defer {
            Task {
                await native.stop(); await setup.stop()
            }
        }
        _ = try await native.peer.fetch(setup.origin.url("/backwards.bin"))
        _ = try await setup.open("A", ["targetLinks": 1])
        try await setup.waitLinks("A", 1)
        // Last chunk first: every chunk but the first waits apart until the gap closes.
        let fetched = try await setup.fetch("A", "/backwards.bin")
        #expect(fetched["source"] as? String == "peer \(native.peer.id!)", "\(fetched)")
        #expect(fetched["sha256"] as? String == Self.hex(body))
        #expect(setup.origin.gets("/backwards.bin") == 1)
    }

    @Test func aDrippingPeerIsAbandonedForItsRateAndTheOriginAnswers() async throws {
        let body = TestSwarm.bytes(600_000, seed: 25)
        let setup = try await Setup.start(["/drip.bin": .init(body: body)])
        // One 16 KiB chunk a second: inside the 5 s stall timeout, far under 32 KiB/s.
        let native = try TestSwarm.start(server: setup.server.url, targetLinks: 1, fault: UploadFault(dripInterval: .seconds(1))) {
            $0.swarm = setup.swarm
        }
        defer {
            Task {
                await native.stop(); await setup.stop()
            }
        }
        _ = try await native.peer.fetch(setup.origin.url("/drip.bin"))
        _ = try await setup.open("A", ["targetLinks": 1])
        try await setup.waitLinks("A", 1)
        let started = ContinuousClock.now
        let fetched = try await setup.fetch("A", "/drip.bin")
        let took = ContinuousClock.now - started
        // The drip alone would take 37 s; the page gives up after its 2 s grace.
        #expect(fetched["source"] as? String == "origin", "\(fetched)")
        #expect(fetched["sha256"] as? String == Self.hex(body))
        #expect(took < .seconds(10), "the fetch took \(took)")
        #expect(setup.origin.gets("/drip.bin") == 2)
    }

    @Test func chunksUnderTheFloorAreRefusedAndTheOriginAnswers() async throws {
        let body = TestSwarm.bytes(200_000, seed: 26)
        let setup = try await Setup.start(["/tiny.bin": .init(body: body)])
        // 512-byte chunks: under the protocol's 1 KiB floor (1005), refused at the head. One
        // a second, so that the upload is still under way when the refusal arrives.
        let fault = UploadFault(dripInterval: .seconds(1), chunkPayload: 512)
        let native = try TestSwarm.start(server: setup.server.url, targetLinks: 1, fault: fault) {
            $0.swarm = setup.swarm
        }
        defer {
            Task {
                await native.stop(); await setup.stop()
            }
        }
        _ = try await native.peer.fetch(setup.origin.url("/tiny.bin"))
        let page = try await setup.open("A", ["targetLinks": 1])
        try await setup.waitLinks("A", 1)
        let link = try await Self.link(of: native, to: page)
        let fetched = try await setup.fetch("A", "/tiny.bin")
        #expect(fetched["source"] as? String == "origin", "\(fetched)")
        #expect(fetched["sha256"] as? String == Self.hex(body))
        #expect(setup.origin.gets("/tiny.bin") == 2)
        // The page told the uploader why: its upload ended on the error, not by a cancel.
        try await TestSwarm.wait("the page's 1005 to reach the uploader") { link.statistics.uploadsRefusedByRequester == 1 }
    }

    @Test func downloadsShareThePagesDownloadMemory() async throws {
        let (big, small) = (TestSwarm.bytes(3_000_000, seed: 27), TestSwarm.bytes(300_000, seed: 28))
        let setup = try await Setup.start(["/big.bin": .init(body: big), "/small.bin": .init(body: small)])
        let native = try TestSwarm.start(server: setup.server.url, targetLinks: 1) { $0.swarm = setup.swarm }
        defer {
            Task {
                await native.stop(); await setup.stop()
            }
        }
        for path in ["/big.bin", "/small.bin"] { _ = try await native.peer.fetch(setup.origin.url(path)) }
        // 2 MiB for all downloads at once: the 3 MB transfer outgrows it, 300 KB fits.
        _ = try await setup.open("A", ["targetLinks": 1, "downloadMemory": 2 << 20])
        try await setup.waitLinks("A", 1)
        let over = try await setup.fetch("A", "/big.bin")
        #expect(over["source"] as? String == "origin", "\(over)")
        #expect(over["sha256"] as? String == Self.hex(big))
        let within = try await setup.fetch("A", "/small.bin")
        #expect(within["source"] as? String == "peer \(native.peer.id!)", "\(within)")
        #expect(within["sha256"] as? String == Self.hex(small))
        // Every charge came back when its transfer ended.
        #expect(try await setup.stats("A")["downloadBytesHeld"] as? Int == 0)
    }

    @Test func aPeersContentTypeNeverBeatsTheOriginsAndActiveTypesBecomeData() async throws {
        let picture = TestSwarm.bytes(300_000, seed: 22)
        let page = Array("<script>alert(1)</script>".utf8) + TestSwarm.bytes(100_000, seed: 23)
        let setup = try await Setup.start([
            "/picture.png": .init(body: picture, contentType: "image/png"), "/data.bin": .init(body: page, contentType: "application/octet-stream"),
        ])
        // Correct bytes, announced as HTML.
        let native = try TestSwarm.start(server: setup.server.url, targetLinks: 1, fault: UploadFault(contentType: "text/html")) {
            $0.swarm = setup.swarm
        }
        defer {
            Task {
                await native.stop(); await setup.stop()
            }
        }
        for path in ["/picture.png", "/data.bin"] { _ = try await native.peer.fetch(setup.origin.url(path)) }
        _ = try await setup.open("A", ["targetLinks": 1])
        try await setup.waitLinks("A", 1)
        // The origin's HEAD named the type: it wins.
        let fetched = try await setup.fetch("A", "/picture.png")
        #expect(fetched["source"] as? String == "peer \(native.peer.id!)", "\(fetched)")
        #expect(fetched["type"] as? String == "image/png", "\(fetched)")
        // With the caller's digest there is no HEAD: the peer's type counts only when passive.
        let trusted = try await setup.fetch("A", "/data.bin", digest: "sha256:" + Self.hex(page))
        #expect(trusted["source"] as? String == "peer \(native.peer.id!)", "\(trusted)")
        #expect(trusted["sha256"] as? String == Self.hex(page))
        #expect(trusted["type"] as? String == "application/octet-stream", "\(trusted)")
    }
}
