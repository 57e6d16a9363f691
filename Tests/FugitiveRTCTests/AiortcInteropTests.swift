import Crypto
import Foundation
import Testing

@testable import FugitiveRTC

/// FugitiveRTC against aiortc (Python, from PyPI in the repo's venv): Swift offering and
/// answering, the channel opened by either side, 10 MB each way, hashes compared.
@Suite("Interop: aiortc", .serialized, .timeLimit(.minutes(1)))
struct AiortcInteropTests {
    static let python = InteropProcess.root.appendingPathComponent(".venv/bin/python").path
    static let script = "Tests/Interop/aiortc_peer.py"

    enum Side: String { case swift, aiortc }

    @Test(arguments: [(Side.swift, Side.swift), (.swift, .aiortc), (.aiortc, .swift), (.aiortc, .aiortc)])
    func tenMegabytesEachWay(offerer: Side, channelOpener: Side) async throws {
        let total = 10_000_000
        let peer = try InteropProcess(Self.python, [
            Self.script, "--role", offerer == .aiortc ? "offer" : "answer",
            "--channel", channelOpener == .aiortc ? "local" : "remote", "--bytes", "\(total)",
        ])
        defer { peer.terminate() }
        let loop = GLibEventLoop()
        let connection = try PeerConnection(configuration: .init(localAddresses: ["127.0.0.1"]), loop: loop, logger: PeerConnectionTests.logger)
        defer { connection.close() }
        var messages = peer.messages.makeAsyncIterator()

        if offerer == .swift {
            peer.send(["type": "offer", "sdp": try connection.createOffer().sdp])
            let answer = try #require(await messages.next(), "aiortc said nothing: \(peer.diagnostics)")
            try connection.setRemoteDescription(SessionDescription(kind: .answer, sdp: try #require(answer["sdp"] as? String)))
        } else {
            let offer = try #require(await messages.next(), "aiortc said nothing: \(peer.diagnostics)")
            try connection.setRemoteDescription(SessionDescription(kind: .offer, sdp: try #require(offer["sdp"] as? String)))
            peer.send(["type": "answer", "sdp": try connection.createAnswer().sdp])
        }
        let trickle = Task {
            for await candidate in connection.localCandidates {
                peer.send(["type": "candidate", "candidate": candidate.candidate.map { $0.sdpAttribute } ?? NSNull(), "mid": candidate.mid])
            }
        }
        defer { trickle.cancel() }

        let channel: DataChannel
        if channelOpener == .swift {
            channel = try await connection.createDataChannel(label: "from-swift")
        } else {
            // (When aiortc offers it also opens a "negotiation" channel, unused.)
            var incoming = connection.incomingChannels.makeAsyncIterator()
            var opened = try #require(await incoming.next(), "no channel from aiortc: \(peer.diagnostics)")
            while opened.label == "negotiation" { opened = try #require(await incoming.next()) }
            channel = opened
            #expect(channel.label == "from-aiortc")
        }
        async let received = PeerConnectionTests.receive(channel, total: total)
        let sent = try await PeerConnectionTests.sendPattern(channel, total: total, size: 16 * 1024)
        let receivedHash = await received
        let done = try #require(await messages.next(), "aiortc did not finish: \(peer.diagnostics)")
        #expect(done["type"] as? String == "done")
        #expect(done["received"] as? String == Self.hex(sent))
        #expect(done["sent"] as? String == Self.hex(receivedHash))
        #expect(done["bytes"] as? String == "\(total)")
    }

    static func hex(_ digest: SHA256Digest) -> String { digest.map { String(format: "%02x", $0) }.joined() }
}
