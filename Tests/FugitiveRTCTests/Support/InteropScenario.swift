import Crypto
import Foundation
import FugitiveTestSupport
import Testing

@testable import FugitiveRTC

/// One transfer between FugitiveRTC and a foreign peer driven over JSON lines
/// (aiortc_peer.py or chromium_peer.py): offer/answer from either side, the channel
/// opened by either side, `total` bytes each way, SHA-256 compared on both ends.
enum InteropScenario {
    enum Side: String, Sendable { case swift, peer }

    static let python = InteropProcess.root.appendingPathComponent(".venv/bin/python").path
    /// The executable with `rtc-peer` and `rtc-churn`: `FUGITIVE_BENCH_BINARY` (`make test`
    /// points it at the release build, as the libraries ship), else the debug build's.
    static let bench = Binaries.fugitiveBench.path

    static func run(script: String, offerer: Side, channelOpener: Side, total: Int = 10_000_000) async throws {
        try await run(command: [python, script], offerer: offerer, channelOpener: channelOpener, total: total)
    }

    /// A connected session with a foreign peer.
    struct Session {
        let peer: InteropProcess
        let loop: GLibEventLoop
        let connection: PeerConnection
        let channel: DataChannel
        let reports: AsyncStream<[String: any Sendable]>
        let tasks: [Task<Void, Never>]

        func end() {
            for task in tasks { task.cancel() }
            connection.close()
            peer.terminate()
        }
    }

    /// - Parameter command: the executable and its first arguments.
    /// - Parameter datagramSize: what the connection must have chosen: 1200 bytes with
    ///   a browser or aiortc (neither advertises the local-path extension), more with
    ///   another FugitiveRTC peer on this machine.
    static func run(command: [String], offerer: Side, channelOpener: Side, total: Int = 10_000_000, datagramSize: Int = 1200) async throws {
        let session = try await connect(command: command, offerer: offerer, channelOpener: channelOpener, total: total)
        defer { session.end() }
        let (peer, channel) = (session.peer, session.channel)
        async let received = PeerConnectionTests.receive(channel, total: total)
        let sent = try await PeerConnectionTests.sendPattern(channel, total: total, size: 16 * 1024)
        let receivedHash = await received
        var reportIterator = session.reports.makeAsyncIterator()
        let done = try #require(await reportIterator.next(), "the peer did not finish: \(peer.diagnostics)")
        #expect(done["type"] as? String == "done")
        #expect(done["received"] as? String == hex(sent), "\(peer.diagnostics)")
        #expect(done["sent"] as? String == hex(receivedHash))
        #expect(done["bytes"] as? String == "\(total)")
        let statistics = session.connection.statistics()
        #expect(statistics.datagramSize == datagramSize)
        #expect(statistics.counters.largestDatagramSent <= datagramSize)
    }

    /// Starts the peer process, signals with it until a data channel is open.
    static func connect(command: [String], offerer: Side, channelOpener: Side, total: Int) async throws -> Session {
        let peer = try InteropProcess(
            command[0],
            Array(command.dropFirst()) + [
                "--role", offerer == .peer ? "offer" : "answer",
                "--channel", channelOpener == .peer ? "local" : "remote", "--bytes", "\(total)",
            ])
        var ready = false
        defer { if !ready { peer.terminate() } }
        let loop = GLibEventLoop()
        let connection = try PeerConnection(configuration: .init(localAddresses: ["127.0.0.1"]), loop: loop, logger: PeerConnectionTests.logger)
        defer { if !ready { connection.close() } }
        var messages = peer.messages.makeAsyncIterator()

        if offerer == .swift {
            peer.send(["type": "offer", "sdp": try connection.createOffer().sdp])
        }
        // The peer's description, with whatever candidates it trickles before it.
        while true {
            let message = try #require(await messages.next(), "the peer said nothing: \(peer.diagnostics)")
            switch message["type"] as? String {
            case "candidate":
                if let text = message["candidate"] as? String {
                    connection.addRemoteCandidate(try TrickledCandidate(candidateString: text, mid: message["mid"] as? String ?? "0"))
                }
                continue
            case "answer":
                try connection.setRemoteDescription(SessionDescription(kind: .answer, sdp: try #require(message["sdp"] as? String)))
            case "offer":
                try connection.setRemoteDescription(SessionDescription(kind: .offer, sdp: try #require(message["sdp"] as? String)))
                peer.send(["type": "answer", "sdp": try connection.createAnswer().sdp])
            default:
                throw InteropFailure("unexpected message \(message): \(peer.diagnostics)")
            }
            break
        }
        let trickle = Task {
            for await candidate in connection.localCandidates {
                peer.send(["type": "candidate", "candidate": candidate.candidate.map { $0.sdpAttribute } ?? NSNull(), "mid": candidate.mid])
            }
        }
        // Candidates the peer trickles from now on, and its final report.
        let (reports, reportSink) = AsyncStream.makeStream(of: [String: any Sendable].self)
        let relay = Task {
            while let message = await messages.next() {
                if message["type"] as? String == "candidate" {
                    if let text = message["candidate"] as? String,
                        let candidate = try? TrickledCandidate(candidateString: text, mid: message["mid"] as? String ?? "0")
                    {
                        connection.addRemoteCandidate(candidate)
                    }
                } else {
                    reportSink.yield(message)
                }
            }
            reportSink.finish()
        }

        let channel: DataChannel
        if channelOpener == .swift {
            channel = try await connection.createDataChannel(label: "from-swift")
        } else {
            // (A peer that offers with no channel of its own opens a "negotiation" one.)
            var incoming = connection.incomingChannels.makeAsyncIterator()
            var opened = try #require(await incoming.next(), "no channel from the peer: \(peer.diagnostics)")
            while opened.label == "negotiation" { opened = try #require(await incoming.next()) }
            channel = opened
            #expect(channel.label == "from-peer")
        }
        ready = true
        return Session(peer: peer, loop: loop, connection: connection, channel: channel, reports: reports, tasks: [trickle, relay])
    }

    static func hex(_ digest: SHA256Digest) -> String { digest.map { String(format: "%02x", $0) }.joined() }
}

struct InteropFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
