import ArgumentParser
import Crypto
import Foundation
import FugitiveRTC
import Logging
import Synchronization

/// `fugitive-bench rtc-peer`: a FugitiveRTC peer signalled over JSON lines on stdin/stdout,
/// the protocol of Tests/Interop/aiortc_peer.py — so that tests and the RTC benchmark
/// can put a Swift peer in a process of its own. Not a user command.
struct RTCPeerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rtc-peer", abstract: "A WebRTC peer signalled over stdin/stdout (for tests).", shouldDisplay: false)

    @Option(help: "offer or answer") var role: String
    @Option(help: "local (this side opens the channel) or remote") var channel: String
    @Option(help: "Bytes this side sends.") var bytes = 10_000_000
    @Option(help: "Bytes this side waits for (default: --bytes).") var receiveBytes: Int?
    @Option var size = 16 * 1024
    @Option(help: "The address to gather host candidates on.") var address = "127.0.0.1"
    @Flag(help: "Send one constant message and count what arrives, without hashing: for throughput.") var plain = false
    @Option(
        help:
            "While sending, time small text messages echoed by the other side: on the bulk channel (same), on a channel of their own (separate), or none."
    )
    var probe = "none"

    func run() async throws {
        let logger = Logger(label: "fugitive.rtc-peer")
        let lines = JSONLines()
        let loop = GLibEventLoop()
        let connection = try PeerConnection(configuration: .init(localAddresses: [address]), loop: loop, logger: logger)
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
        // The first channel the other side opens is the bulk one (when it opens it); any
        // other carries its probes, echoed.
        let (bulk, arrived) = AsyncStream.makeStream(of: DataChannel.self)
        let incoming = Task { [remoteOpens = channel != "local"] in
            var first = remoteOpens
            for await opened in connection.incomingChannels {
                if first {
                    first = false
                    arrived.yield(opened)
                    continue
                }
                Task { for await message in opened.messages { if case .text = message { try? await opened.send(message) } } }
            }
            arrived.finish()
        }
        defer { incoming.cancel() }
        let dataChannel: DataChannel
        if channel == "local" {
            dataChannel = try await connection.createDataChannel(label: "from-peer")
        } else {
            var channels = bulk.makeAsyncIterator()
            guard let first = await channels.next() else { throw ValidationError("the connection closed before a channel opened") }
            dataChannel = first
        }
        let prober: RTCProbe? =
            switch probe {
            case "same": RTCProbe(dataChannel)
            case "separate": RTCProbe(try await connection.createDataChannel(label: "probe"))
            default: nil
            }
        let opened = ContinuousClock.now
        async let received = Self.receive(dataChannel, total: receiveBytes ?? bytes, hashing: !plain)
        let probing = Task { await prober?.run() }
        let sent = try await Self.send(dataChannel, total: bytes, size: size, random: !plain)
        // The last of the transfer is still in the send buffer: probes go on until it left.
        while prober != nil, (connection.statistics().bufferedChunks ?? 0) > 0 { try? await Task.sleep(for: .milliseconds(20)) }
        prober?.stop()
        let (receivedHash, count) = await received
        // Probes that came after the last byte are still echoed (by the receiving side:
        // a sending side's probe reads its own replies).
        if count > 0 {
            Task { for await message in dataChannel.messages { if case .text = message { try? await dataChannel.send(message) } } }
        }
        // From this side's open channel to the last byte received.
        let microseconds = Int((ContinuousClock.now - opened) / .microseconds(1))
        var done: [String: Any] = ["type": "done", "sent": sent, "received": receivedHash, "bytes": count, "microseconds": microseconds]
        if let times = await probing.value, !times.isEmpty {
            done["probes"] = times.count
            done["probeMedianMicros"] = times.sorted()[times.count / 2]
            done["probeMaxMicros"] = times.max()
        }
        lines.emit(done)
        // What we sent may still be in flight: stay until the other side closes stdin.
        _ = await signalling.result
        connection.close()
    }

    static func send(_ channel: DataChannel, total: Int, size: Int, random: Bool) async throws -> String {
        var hash = SHA256()
        var generator = SystemRandomNumberGenerator()
        let constant = [UInt8](repeating: 0x5a, count: size)
        var offset = 0
        while offset < total {
            if !random {
                let count = min(size, total - offset)
                try await channel.send(.binary(count == size ? constant : Array(constant[..<count])))
                offset += count
                continue
            }
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

    static func receive(_ channel: DataChannel, total: Int, hashing: Bool) async -> (String, Int) {
        var hash = SHA256()
        var count = 0
        guard total > 0 else { return (hash.finalize().map { String(format: "%02x", $0) }.joined(), 0) }
        for await message in channel.messages {
            guard case .binary(let bytes) = message else {
                // A probe of the other side's, on this channel: echoed.
                try? await channel.send(message)
                continue
            }
            if hashing { hash.update(data: bytes) }
            count += bytes.count
            if count >= total { break }
        }
        return (hash.finalize().map { String(format: "%02x", $0) }.joined(), count)
    }
}

/// Round trips of small text messages sent every 100 ms while a bulk transfer runs,
/// echoed by the other side: how long a control message waits behind bulk data.
final class RTCProbe: Sendable {
    let channel: DataChannel
    let replies: Task<Void, Never>
    let answered: AsyncStream<String>
    private let stopped = Mutex(false)

    init(_ channel: DataChannel) {
        self.channel = channel
        let (answered, sink) = AsyncStream.makeStream(of: String.self)
        self.answered = answered
        replies = Task {
            for await message in channel.messages { if case .text(let text) = message { sink.yield(text) } }
            sink.finish()
        }
    }

    /// Sends no further probe; the one under way is still timed.
    func stop() { stopped.withLock { $0 = true } }

    /// Microseconds per round trip, until stopped (or the channel closes).
    func run() async -> [Int] {
        var times: [Int] = []
        var replies = answered.makeAsyncIterator()
        while !stopped.withLock({ $0 }) {
            let start = ContinuousClock.now
            do { try await channel.send(.text("probe \(times.count)")) } catch { break }
            guard await replies.next() != nil else { break }
            times.append(Int((ContinuousClock.now - start) / .microseconds(1)))
            try? await Task.sleep(for: .milliseconds(100))
        }
        return times
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
