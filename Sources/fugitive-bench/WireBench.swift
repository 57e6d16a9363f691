import ArgumentParser
import Foundation
import FugitiveWire
import NIOCore

/// `fugitive-bench wire`: encode/decode throughput of a full 16 KiB chunk message and a
/// signalling message, next to Python's msgpack C extension on the same bytes.
struct WireBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wire",
        abstract: "Encode/decode throughput of wire messages, against Python msgpack (C extension)."
    )

    @Option(help: "Seconds to measure each case.")
    var seconds: Double = 1.0

    @Option(help: "Python with msgpack installed (the test venv).")
    var python: String = ".venv/bin/python"

    @Option(help: "The reference benchmark script.")
    var reference: String = "Tests/Interop/msgpack_bench.py"

    @Flag(help: "Print one JSON object instead of a table.")
    var json = false

    struct Result: Codable {
        var name: String
        var bytes: Int
        var encodePerSecond: Double
        var decodePerSecond: Double
        var referenceEncodePerSecond: Double?
        var referenceDecodePerSecond: Double?
        var encodeMBps: Double { encodePerSecond * Double(bytes) / 1e6 }
        var decodeMBps: Double { decodePerSecond * Double(bytes) / 1e6 }
        var encodeRatio: Double? { referenceEncodePerSecond.map { encodePerSecond / $0 } }
        var decodeRatio: Double? { referenceDecodePerSecond.map { decodePerSecond / $0 } }
    }

    func run() async throws {
        let peerCodec = WireCodec(limits: .peerLink)
        let serverCodec = WireCodec(limits: .serverLink)
        let payload = ByteBuffer(bytes: (0..<ChunkSplitter.payloadSize()).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        let chunk = PeerMessage.chunk(Chunk(id: 7, index: 1234, data: payload))
        let signal = ServerMessage.signal(Signal(peer: "a3f9c2d1e4b5", kind: .offer, sdp: Self.sampleSDP))
        let chunkFrame = peerCodec.encode(chunk)
        let signalFrame = serverCodec.encode(signal)

        var results = [
            Result(
                name: "chunk", bytes: chunkFrame.readableBytes,
                encodePerSecond: measure { peerCodec.encode(chunk).readableBytes },
                decodePerSecond: measure { (try? peerCodec.decodePeerMessage(chunkFrame)) == nil ? 0 : 1 }
            ),
            Result(
                name: "signal", bytes: signalFrame.readableBytes,
                encodePerSecond: measure { serverCodec.encode(signal).readableBytes },
                decodePerSecond: measure { (try? serverCodec.decodeServerMessage(signalFrame)) == nil ? 0 : 1 }
            ),
        ]
        let reference = try? runReference(["chunk": chunkFrame, "signal": signalFrame])
        for i in results.indices {
            results[i].referenceEncodePerSecond = reference?[results[i].name]?["encodePerSecond"]
            results[i].referenceDecodePerSecond = reference?[results[i].name]?["decodePerSecond"]
        }
        if json {
            var object: [String: Any] = [:]
            for r in results {
                object[r.name] = [
                    "bytes": r.bytes, "encodePerSecond": r.encodePerSecond, "decodePerSecond": r.decodePerSecond,
                    "encodeMBps": r.encodeMBps, "decodeMBps": r.decodeMBps,
                    "pythonEncodePerSecond": r.referenceEncodePerSecond as Any, "pythonDecodePerSecond": r.referenceDecodePerSecond as Any,
                    "encodeRatio": r.encodeRatio as Any, "decodeRatio": r.decodeRatio as Any,
                ]
            }
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
            return
        }
        print("message  bytes   op      Swift msg/s     Swift MB/s   Python msg/s   Python MB/s   ratio")
        for r in results {
            for (op, rate, ref, ratio) in [
                ("encode", r.encodePerSecond, r.referenceEncodePerSecond, r.encodeRatio),
                ("decode", r.decodePerSecond, r.referenceDecodePerSecond, r.decodeRatio),
            ] {
                print(
                    pad(r.name, 8), pad("\(r.bytes)", 6, right: true), " ", pad(op, 6),
                    pad(format(rate, 0), 13, right: true), pad(format(rate * Double(r.bytes) / 1e6, 1), 14, right: true),
                    pad(ref.map { format($0, 0) } ?? "n/a", 14, right: true),
                    pad(ref.map { format($0 * Double(r.bytes) / 1e6, 1) } ?? "n/a", 13, right: true),
                    pad(ratio.map { format($0, 2) + "x" } ?? "n/a", 8, right: true)
                )
            }
        }
        if reference == nil {
            print("(no reference: \(python) with msgpack not found; run scripts/bootstrap)")
        }
    }

    /// Operations per second of `body`, over `seconds` of batches.
    func measure(_ body: () -> Int) -> Double {
        var sink = 0
        for _ in 0..<1_000 { sink &+= body() }  // warm up
        let clock = ContinuousClock()
        let start = clock.now
        var operations = 0
        var elapsed = Duration.zero
        while elapsed < .seconds(seconds) {
            for _ in 0..<1_000 { sink &+= body() }
            operations += 1_000
            elapsed = clock.now - start
        }
        precondition(sink != 42, "keeps the work observable")
        let (s, atto) = elapsed.components
        return Double(operations) / (Double(s) + Double(atto) / 1e18)
    }

    /// Runs the Python reference on the same frames; its numbers, by case name.
    func runReference(_ frames: [String: ByteBuffer]) throws -> [String: [String: Double]] {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fugitive-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        var paths: [String] = []
        for (name, frame) in frames.sorted(by: { $0.key < $1.key }) {
            let url = directory.appendingPathComponent(name)
            try Data(frame.readableBytesView).write(to: url)
            paths.append(url.path)
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [reference, "--seconds", "\(seconds)"] + paths
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0,
            let object = try JSONSerialization.jsonObject(with: output) as? [String: [String: Any]]
        else { throw CocoaError(.fileReadCorruptFile) }
        return object.mapValues { $0.compactMapValues { ($0 as? NSNumber)?.doubleValue } }
    }

    func format(_ value: Double, _ decimals: Int) -> String { String(format: "%.\(decimals)f", value) }

    func pad(_ text: String, _ width: Int, right: Bool = false) -> String {
        let padding = String(repeating: " ", count: max(0, width - text.count))
        return right ? padding + text : text + padding
    }

    /// A data-channel offer as Chromium writes it, with two host candidates.
    static let sampleSDP = """
        v=0\r
        o=- 4611731400430051336 2 IN IP4 127.0.0.1\r
        s=-\r
        t=0 0\r
        a=group:BUNDLE 0\r
        a=extmap-allow-mixed\r
        a=msid-semantic: WMS\r
        m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r
        c=IN IP4 0.0.0.0\r
        a=candidate:1467250027 1 udp 2122260223 192.168.1.20 46243 typ host generation 0 network-id 1\r
        a=candidate:434465441 1 tcp 1518280447 192.168.1.20 9 typ host tcptype active generation 0 network-id 1\r
        a=ice-ufrag:Yo8R\r
        a=ice-pwd:pfW0y3/j2ZzZbBfBt0c0yF4T\r
        a=ice-options:trickle\r
        a=fingerprint:sha-256 7B:8B:F0:65:5F:78:E2:51:3B:AC:6F:F3:3F:46:1B:35:DC:B8:5F:64:1A:24:C2:43:F0:A1:58:D0:A1:2C:19:08\r
        a=setup:actpass\r
        a=mid:0\r
        a=sctp-port:5000\r
        a=max-message-size:262144\r

        """
}
