import Crypto
import Logging
import Testing

@testable import FugitiveRTC

/// Two peer connections in one process over loopback: real ICE (libnice, UDP), DTLS
/// (OpenSSL) and SCTP (usrsctp); the test carries the signalling.
@Suite("Peer connection (in process)", .serialized)
struct PeerConnectionTests {
    static let logger = Logger(label: "test.rtc")

    /// Offer/answer and trickle between `a` (offerer) and `b`, returning when both are
    /// connected.
    static func connect(_ a: PeerConnection, _ b: PeerConnection) async throws {
        let offer = try a.createOffer()
        try b.setRemoteDescription(SessionDescription(kind: .offer, sdp: offer.sdp))
        let answer = try b.createAnswer()
        try a.setRemoteDescription(SessionDescription(kind: .answer, sdp: answer.sdp))
        let trickleA = Task { for await candidate in a.localCandidates { b.addRemoteCandidate(candidate) } }
        let trickleB = Task { for await candidate in b.localCandidates { a.addRemoteCandidate(candidate) } }
        _ = (trickleA, trickleB)
        for connection in [a, b] {
            var reached: PeerConnection.State?
            for await state in connection.states {
                reached = state
                if state == .connected || state.isFinal { break }
            }
            try #require(reached == .connected)
        }
    }

    static func pair(
        mtu: Int = 1200,
        localPathMTU: (Int, Int) = (PeerConnection.Configuration.defaultLocalPathMTU, PeerConnection.Configuration.defaultLocalPathMTU),
        receiveBufferSize: Int = PeerConnection.Configuration().receiveBufferSize
    ) throws -> (PeerConnection, PeerConnection, GLibEventLoop) {
        let loop = GLibEventLoop()
        func configuration(_ localPathMTU: Int) -> PeerConnection.Configuration {
            PeerConnection.Configuration(
                localAddresses: ["127.0.0.1"], mtu: mtu, localPathMTU: localPathMTU, receiveBufferSize: receiveBufferSize)
        }
        return (
            try PeerConnection(configuration: configuration(localPathMTU.0), loop: loop, logger: logger),
            try PeerConnection(configuration: configuration(localPathMTU.1), loop: loop, logger: logger), loop
        )
    }

    /// Connects `a` (offering) and `b`, opens a channel from `a` and returns both ends.
    static func openChannel(_ a: PeerConnection, _ b: PeerConnection, label: String = "bulk") async throws -> (
        local: DataChannel, remote: DataChannel
    ) {
        try await connect(a, b)
        let incoming = Task { () -> DataChannel? in
            for await channel in b.incomingChannels { return channel }
            return nil
        }
        let channel = try await a.createDataChannel(label: label)
        return (channel, try #require(await incoming.value))
    }

    /// Opens a channel from `a` to `b`, sends `total` bytes in 16 KiB messages and
    /// checks they arrived intact.
    static func transfer(_ a: PeerConnection, _ b: PeerConnection, total: Int) async throws {
        let (channel, remote) = try await openChannel(a, b)
        async let received = receive(remote, total: total)
        let sent = try await sendPattern(channel, total: total, size: 16 * 1024)
        #expect(await received == sent)
    }

    /// Sends `total` bytes in `size`-byte messages and returns the SHA-256 of what was sent.
    static func sendPattern(_ channel: DataChannel, total: Int, size: Int) async throws -> SHA256Digest {
        var hash = SHA256()
        var sent = 0
        var counter: UInt64 = 0x9e37_79b9_7f4a_7c15
        while sent < total {
            let count = min(size, total - sent)
            var message = [UInt8](repeating: 0, count: count)
            message.withUnsafeMutableBytes { bytes in
                for index in stride(from: 0, to: count - 7, by: 8) {
                    counter = counter &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                    bytes.storeBytes(of: counter, toByteOffset: index, as: UInt64.self)
                }
            }
            hash.update(data: message)
            try await channel.send(.binary(message))
            sent += count
        }
        return hash.finalize()
    }

    static func receive(_ channel: DataChannel, total: Int) async -> SHA256Digest {
        var hash = SHA256()
        var received = 0
        for await message in channel.messages {
            guard case .binary(let bytes) = message else { continue }
            hash.update(data: bytes)
            received += bytes.count
            if received >= total { break }
            // Queued messages never suspend this loop: let the rest of the test process run.
            if received % (1 << 20) < bytes.count { await Task.yield() }
        }
        return hash.finalize()
    }

    @Test func fiftyMegabytesArriveIntactIn16KiBMessages() async throws {
        let (a, b, loop) = try Self.pair()
        defer { a.close(); b.close(); _ = loop }
        let (channel, remote) = try await Self.openChannel(a, b)
        #expect(remote.label == "bulk")
        #expect(channel.id % 2 == 1)  // the offerer is the DTLS server here: odd ids
        let total = 50_000_000
        async let received = Self.receive(remote, total: total)
        let sent = try await Self.sendPattern(channel, total: total, size: 16 * 1024)
        #expect(await received == sent)
        #expect(remote.statistics.receivedBytes == total)
        let statistics = a.statistics()
        #expect(statistics.state == .connected)
        #expect(statistics.selectedLocalCandidate?.address == "127.0.0.1")
        #expect(statistics.selectedRemoteCandidate?.address == "127.0.0.1")
        #expect(statistics.rttMilliseconds != nil)
        #expect(statistics.counters.bytesSent > total)  // SCTP and DTLS headers on top
        // Loopback is a local path and both sides advertise larger datagrams: a 16 KiB
        // message is two SCTP packets in two DTLS records, and records sent together
        // share a datagram, so there are fewer datagrams than twice the messages.
        #expect(statistics.datagramSize == PeerConnection.Configuration.defaultLocalPathMTU)
        #expect(statistics.counters.largestDatagramSent <= statistics.datagramSize)
        #expect(statistics.counters.largestDatagramSent > 16_000)
        #expect(statistics.counters.datagramsSent < 2 * total / (16 * 1024))
        #expect(statistics.channels.map(\.sentBytes) == [total])
    }

    /// Without the local-path extension (a browser never advertises it), every datagram
    /// stays within WebRTC's 1200 bytes, and packets are filled.
    @Test func withoutTheLocalPathExtensionDatagramsStayWithin1200Bytes() async throws {
        let (a, b, loop) = try Self.pair(localPathMTU: (0, 0))
        defer { a.close(); b.close(); _ = loop }
        try await Self.transfer(a, b, total: 5_000_000)
        let statistics = a.statistics()
        #expect(statistics.datagramSize == 1200)
        #expect(statistics.counters.largestDatagramSent <= 1200)
        #expect(statistics.counters.largestDatagramSent > 1000)
    }

    /// The extension takes both sides: when only one advertises it, neither sends more
    /// than 1200 bytes (the one that did not advertise may not take more).
    @Test func theLocalPathExtensionNeedsBothSides() async throws {
        for sides in [(PeerConnection.Configuration.defaultLocalPathMTU, 0), (0, PeerConnection.Configuration.defaultLocalPathMTU)] {
            let (a, b, loop) = try Self.pair(localPathMTU: sides)
            defer { a.close(); b.close(); _ = loop }
            try await Self.transfer(a, b, total: 2_000_000)
            for side in [a, b] {
                #expect(side.statistics().datagramSize == 1200)
                #expect(side.statistics().counters.largestDatagramSent <= 1200)
            }
        }
    }

    /// Both sides advertise different sizes: the smaller one is used, both ways.
    @Test func theLocalPathDatagramSizeIsTheSmallerAdvertised() async throws {
        let (a, b, loop) = try Self.pair(localPathMTU: (16_000, 5_000))
        defer { a.close(); b.close(); _ = loop }
        try await Self.transfer(a, b, total: 2_000_000)
        #expect(a.statistics().datagramSize == 5_000)
        #expect(b.statistics().datagramSize == 5_000)
        #expect(a.statistics().counters.largestDatagramSent <= 5_000)
        #expect(a.statistics().counters.largestDatagramSent > 4_000)
    }

    /// On a path known to carry them (a jumbo-frame LAN), an opted-in larger MTU
    /// carries a 16 KiB message in two datagrams instead of fifteen, on any path.
    @Test func aLargerMTUCarriesAMessageInFewerDatagrams() async throws {
        let mtu = 9000
        let (a, b, loop) = try Self.pair(mtu: mtu, localPathMTU: (0, 0))
        defer { a.close(); b.close(); _ = loop }
        let total = 10_000_000
        try await Self.transfer(a, b, total: total)
        let counters = a.statistics().counters
        #expect(counters.largestDatagramSent <= mtu)
        #expect(counters.datagramsSent < 5 * total / (2 * 16 * 1024))
    }

    @Test func channelsOpenFromEitherSideAndCarryTextAndEmptyMessages() async throws {
        let (a, b, loop) = try Self.pair()
        defer { a.close(); b.close(); _ = loop }
        try await Self.connect(a, b)
        let incoming = Task { () -> DataChannel? in
            for await channel in a.incomingChannels { return channel }
            return nil
        }
        let fromB = try await b.createDataChannel(label: "from-b")
        #expect(fromB.id % 2 == 0)  // the answerer is the DTLS client: even ids
        let atA = try #require(await incoming.value)
        try await fromB.send(.text("héllo"))
        try await fromB.send(.text(""))
        try await fromB.send(.binary([]))
        var iterator = atA.messages.makeAsyncIterator()
        #expect(await iterator.next() == .text("héllo"))
        #expect(await iterator.next() == .text(""))
        #expect(await iterator.next() == .binary([]))
        // Closing one side closes the other.
        fromB.close()
        #expect(await iterator.next() == nil)
        #expect(atA.isClosed)
    }

    @Test func aWrongFingerprintFailsTheConnection() async throws {
        let (a, b, loop) = try Self.pair()
        defer { a.close(); b.close(); _ = loop }
        let offer = try a.createOffer()
        var tampered = offer
        tampered.fingerprint = try DTLSCertificate().fingerprint
        try b.setRemoteDescription(SessionDescription(kind: .offer, sdp: tampered.sdp))
        let answer = try b.createAnswer()
        try a.setRemoteDescription(answer)
        let trickleA = Task { for await candidate in a.localCandidates { b.addRemoteCandidate(candidate) } }
        let trickleB = Task { for await candidate in b.localCandidates { a.addRemoteCandidate(candidate) } }
        _ = (trickleA, trickleB)
        var last: PeerConnection.State?
        for await state in b.states { last = state }
        guard case .failed(let error) = last else {
            Issue.record("b ended as \(String(describing: last))")
            return
        }
        #expect(error.code == .fingerprintMismatch)
    }
}
