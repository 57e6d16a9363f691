import Foundation
import Testing

@testable import FugitiveRTC

/// A reader that falls behind holds the sender back: what arrived and was not read is
/// bounded by the receive buffer (plus usrsctp's own 4 MiB), not by what the peer sends.
@Suite("Receive back-pressure", .serialized)
struct ReceiveBackPressureTests {
    /// Sends until the channel's sends stop going out, and returns how many bytes went.
    private static func sendUntilHeldBack(
        _ channel: DataChannel, limit total: Int, settle: Duration = .milliseconds(600), within: Duration = .seconds(8)
    ) async throws -> (sender: Task<Int, any Error>, sent: Int) {
        let sender = Task { () -> Int in
            let message = [UInt8](repeating: 7, count: 16 * 1024)
            var sent = 0
            while sent < total {
                try await channel.send(.binary(message))
                sent += message.count
            }
            return sent
        }
        // The sender is held back once its count stops growing for `settle`.
        let clock = ContinuousClock()
        let end = clock.now + within
        var last = -1
        var since = clock.now
        while clock.now < end {
            try await Task.sleep(for: .milliseconds(50))
            let sent = channel.statistics.sentBytes
            if sent != last {
                (last, since) = (sent, clock.now)
            } else if clock.now - since >= settle {
                break
            }
        }
        return (sender, channel.statistics.sentBytes)
    }

    @Test func aReaderThatDoesNotReadHoldsTheSenderBack() async throws {
        let (a, b, loop) = try PeerConnectionTests.pair(receiveBufferSize: 256 << 10)
        defer { a.close(); b.close(); _ = loop }
        let (channel, remote) = try await PeerConnectionTests.openChannel(a, b)
        let total = 64 << 20
        let (sender, sent) = try await Self.sendUntilHeldBack(channel, limit: total)
        let association = try #require(b.association)
        print("back-pressure: \(sent) bytes sent before the sender was held back; the reader holds \(association.heldBytes)")
        // 256 KiB for the reader, 4 MiB in usrsctp's receive buffer and 4 MiB in the
        // sender's (SCTPStack): far from the 64 MiB it would send unchecked.
        #expect(sent <= (256 << 10) + (8 << 20) + 64 * 1024)
        #expect(association.heldBytes <= (256 << 10) + 16 * 1024)
        // Reading lets everything through, in order and whole.
        var received = 0
        for await message in remote.messages {
            received += message.count
            if received >= total { break }
        }
        #expect(received == total)
        #expect(try await sender.value == total)
        #expect(association.heldBytes == 0)
    }

    @Test func closingAnUnreadChannelGivesItsSpaceBack() async throws {
        let (a, b, loop) = try PeerConnectionTests.pair(receiveBufferSize: 256 << 10)
        defer { a.close(); b.close(); _ = loop }
        let (channel, remote) = try await PeerConnectionTests.openChannel(a, b, label: "unread")
        let (sender, _) = try await Self.sendUntilHeldBack(channel, limit: 16 << 20)
        let association = try #require(b.association)
        #expect(association.heldBytes > 0)
        // The reader gives up on the channel: what it held is released, and a second
        // channel on the same connection still carries messages.
        remote.close()
        sender.cancel()
        _ = await sender.result
        let incoming = Task { () -> DataChannel? in
            for await channel in b.incomingChannels { return channel }
            return nil
        }
        let second = try await a.createDataChannel(label: "second")
        let secondRemote = try #require(await incoming.value)
        try await second.send(.binary([1, 2, 3]))
        var iterator = secondRemote.messages.makeAsyncIterator()
        #expect(await iterator.next() == .binary([1, 2, 3]))
    }

    /// A message over the size this side advertised is dropped piece by piece, never
    /// assembled; the channel goes on. (The sender here is told a larger limit than the
    /// receiver keeps, as a peer that ignores `a=max-message-size` would behave.)
    @Test func aMessageOverTheAdvertisedSizeIsDroppedAndTheChannelGoesOn() async throws {
        let loop = GLibEventLoop()
        let a = try PeerConnection(configuration: .init(localAddresses: ["127.0.0.1"]), loop: loop, logger: PeerConnectionTests.logger)
        let b = try PeerConnection(
            configuration: .init(localAddresses: ["127.0.0.1"], maxMessageSize: 65536), loop: loop, logger: PeerConnectionTests.logger)
        defer { a.close(); b.close(); _ = loop }
        try b.setRemoteDescription(SessionDescription(kind: .offer, sdp: try a.createOffer().sdp))
        let answer = try b.createAnswer().sdp
        #expect(answer.contains("a=max-message-size:65536"))
        let lying = answer.replacingOccurrences(of: "a=max-message-size:65536", with: "a=max-message-size:1048576")
        try a.setRemoteDescription(SessionDescription(kind: .answer, sdp: lying))
        let trickle = [
            Task { for await candidate in a.localCandidates { b.addRemoteCandidate(candidate) } },
            Task { for await candidate in b.localCandidates { a.addRemoteCandidate(candidate) } },
        ]
        defer { for task in trickle { task.cancel() } }
        let incoming = Task { () -> DataChannel? in
            for await channel in b.incomingChannels { return channel }
            return nil
        }
        let channel = try await a.createDataChannel(label: "big")
        let remote = try #require(await incoming.value)
        try await channel.send(.binary([UInt8](repeating: 1, count: 200_000)))
        try await channel.send(.binary([UInt8](repeating: 2, count: 65536)))
        var iterator = remote.messages.makeAsyncIterator()
        #expect(await iterator.next() == .binary([UInt8](repeating: 2, count: 65536)))
        #expect(try #require(b.association).oversizedMessages == 1)
    }
}
