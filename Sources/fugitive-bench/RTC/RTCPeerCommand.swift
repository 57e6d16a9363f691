import ArgumentParser
import Crypto
import Foundation
import FugitiveRTC
import Logging

/// `fugitive-bench rtc-peer`: a FugitiveRTC peer signalled over JSON lines on stdin/stdout,
/// the protocol of Tests/Interop/aiortc_peer.py — so that tests and the RTC benchmark
/// can put a Swift peer in a process of its own. Not a user command.
struct RTCPeerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rtc-peer", abstract: "A WebRTC peer signalled over stdin/stdout (for tests).", shouldDisplay: false)

    @Option(help: "offer or answer") var role: String
    @Option(help: "local (this side opens the channel) or remote") var channel: String
    @Option var bytes = 10_000_000
    @Option var size = 16 * 1024

    func run() async throws {
        let logger = Logger(label: "fugitive.rtc-peer")
        let lines = JSONLines()
        let loop = GLibEventLoop()
        let connection = try PeerConnection(configuration: .init(localAddresses: ["127.0.0.1"]), loop: loop, logger: logger)
        if role == "offer" { lines.emit(["type": "offer", "sdp": try connection.createOffer().sdp]) }
        Task {
            for await candidate in connection.localCandidates {
                lines.emit(["type": "candidate", "candidate": candidate.candidate.map { $0.sdpAttribute } ?? NSNull(), "mid": candidate.mid])
            }
        }
        let signalling = Task {
            for await message in lines.incoming {
                switch message["type"] as? String {
                case "offer":
                    try connection.setRemoteDescription(SessionDescription(kind: .offer, sdp: message["sdp"] as? String ?? ""))
                    lines.emit(["type": "answer", "sdp": try connection.createAnswer().sdp])
                case "answer":
                    try connection.setRemoteDescription(SessionDescription(kind: .answer, sdp: message["sdp"] as? String ?? ""))
                case "candidate":
                    if let text = message["candidate"] as? String {
                        connection.addRemoteCandidate(try TrickledCandidate(candidateString: text, mid: message["mid"] as? String ?? "0"))
                    }
                default:
                    break
                }
            }
        }
        let dataChannel: DataChannel
        if channel == "local" {
            dataChannel = try await connection.createDataChannel(label: "from-peer")
        } else {
            var incoming = connection.incomingChannels.makeAsyncIterator()
            guard let first = await incoming.next() else { throw ValidationError("the connection closed before a channel opened") }
            dataChannel = first
        }
        async let received = Self.receive(dataChannel, total: bytes)
        let sent = try await Self.send(dataChannel, total: bytes, size: size)
        let (receivedHash, count) = await received
        lines.emit(["type": "done", "sent": sent, "received": receivedHash, "bytes": count])
        // What we sent may still be in flight: stay until the other side closes stdin.
        _ = await signalling.result
        connection.close()
    }

    static func send(_ channel: DataChannel, total: Int, size: Int) async throws -> String {
        var hash = SHA256()
        var generator = SystemRandomNumberGenerator()
        var offset = 0
        while offset < total {
            var message = [UInt8](repeating: 0, count: min(size, total - offset))
            message.withUnsafeMutableBytes { bytes in
                for index in stride(from: 0, to: bytes.count - 7, by: 8) {
                    bytes.storeBytes(of: generator.next(), toByteOffset: index, as: UInt64.self)
                }
            }
            hash.update(data: message)
            try await channel.send(.binary(message))
            offset += message.count
        }
        return hash.finalize().map { String(format: "%02x", $0) }.joined()
    }

    static func receive(_ channel: DataChannel, total: Int) async -> (String, Int) {
        var hash = SHA256()
        var count = 0
        for await message in channel.messages {
            guard case .binary(let bytes) = message else { continue }
            hash.update(data: bytes)
            count += bytes.count
            if count >= total { break }
        }
        return (hash.finalize().map { String(format: "%02x", $0) }.joined(), count)
    }
}

/// JSON objects, one per line: read from stdin on a thread of their own, written to
/// stdout under a lock.
final class JSONLines: Sendable {
    let incoming: AsyncStream<[String: any Sendable]>
    private let output = NSLock()

    init() {
        let (stream, continuation) = AsyncStream.makeStream(of: [String: any Sendable].self)
        incoming = stream
        let reader = Thread {
            while let line = readLine() {
                guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { continue }
                continuation.yield(object.compactMapValues { $0 as? String ?? ($0 as? Int).map { "\($0)" } })
            }
            continuation.finish()
        }
        reader.start()
    }

    func emit(_ message: [String: Any]) {
        guard let data = try? JSONSerialization.data(withJSONObject: message) else { return }
        output.withLock {
            FileHandle.standardOutput.write(data + Data([0x0a]))
        }
    }
}
