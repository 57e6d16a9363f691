import Foundation
import FugitivePeerTesting
import FugitiveServerTesting
import FugitiveTestSupport
import Testing

@testable import FugitiveGateway

/// `Range` through the gateway (RFC 9110): one range answered 206, a range past the end
/// 416, anything else the whole resource; and what a player does with it — ffprobe and
/// ffmpeg seeking in a video whose index sits at its end.
@Suite("Gateway ranges", .serialized, .timeLimit(.minutes(2)))
struct GatewayRangeTests {
    @Test(arguments: [
        ("bytes=0-99", ByteRangeRequest.partial(0..<100)),
        ("bytes=990-", .partial(990..<1000)),
        ("bytes=-10", .partial(990..<1000)),
        ("bytes=-5000", .partial(0..<1000)),
        ("bytes=500-99999999999999999999999", .partial(500..<1000)),
        (" Bytes=10-19 ", .partial(10..<20)),
        ("bytes=1000-", .unsatisfiable),
        ("bytes=99999999999999999999999-", .unsatisfiable),
        ("bytes=-0", .unsatisfiable),
        ("bytes=20-10", .whole),
        ("bytes=0-1,5-9", .whole),
        ("items=0-9", .whole),
        ("bytes=x-9", .whole),
        ("bytes=", .whole),
    ])
    func aRangeHeaderReads(_ header: String, as expected: ByteRangeRequest) {
        #expect(ByteRangeRequest(header: header, size: 1000) == expected, "\(header)")
    }

    @Test func anEmptyResourceHasNoRangeToGive() {
        #expect(ByteRangeRequest(header: "bytes=0-", size: 0) == .unsatisfiable)
        #expect(ByteRangeRequest(header: "bytes=-1", size: 0) == .unsatisfiable)
        #expect(ByteRangeRequest(header: nil, size: 0) == .whole)
    }

    /// A gateway on a peer of its own, the origin on loopback.
    struct Setup {
        let origin: TestOrigin
        let server: LiveOrchestrator
        let peer: RunningPeer
        let gateway: GatewayTests.Running

        static func start(_ resources: [String: TestOrigin.Resource]) async throws -> Setup {
            let origin = try await TestOrigin(resources)
            let server = try await LiveOrchestrator.start()
            let peer = try TestSwarm.start(server: server.url)
            let gateway = try await GatewayTests.gateway(peer.peer, .init(port: 0, allowPrivateAddresses: true))
            return Setup(origin: origin, server: server, peer: peer, gateway: gateway)
        }

        func url(_ path: String) -> String {
            "\(gateway.url)/fetch?url=\(origin.url(path).addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)"
        }

        func stop() async {
            gateway.task.cancel()
            await peer.stop()
            await server.stop()
            await origin.stop()
        }
    }

    @Test func oneRangeIs206APastTheEndRangeIs416AndAStaleIfRangeGetsTheWhole() async throws {
        let body = TestSwarm.bytes(100_000, seed: 31)
        let setup = try await Setup.start(["/file.bin": .init(body: body)])
        defer { Task { await setup.stop() } }
        let url = setup.url("/file.bin")

        let whole = try await TestHTTP.get(url)
        #expect(whole.status == 200 && whole.bytes == body)
        #expect(whole.headers["accept-ranges"] == "bytes")
        let etag = try #require(whole.headers["etag"])

        let middle = try await TestHTTP.get(url, headers: [("Range", "bytes=1000-1999")])
        #expect(middle.status == 206 && middle.bytes == Array(body[1000..<2000]))
        #expect(middle.headers["content-range"] == "bytes 1000-1999/100000")
        let tail = try await TestHTTP.get(url, headers: [("Range", "bytes=-100")])
        #expect(tail.status == 206 && tail.bytes == Array(body[99_900...]))
        #expect(tail.headers["content-range"] == "bytes 99900-99999/100000")

        let past = try await TestHTTP.get(url, headers: [("Range", "bytes=100000-")])
        #expect(past.status == 416 && past.headers["content-range"] == "bytes */100000")

        let current = try await TestHTTP.get(url, headers: [("Range", "bytes=0-9"), ("If-Range", etag)])
        #expect(current.status == 206 && current.bytes == Array(body[0..<10]))
        let stale = try await TestHTTP.get(url, headers: [("Range", "bytes=0-9"), ("If-Range", "\"another\"")])
        #expect(stale.status == 200 && stale.bytes == body)
        // Fetched once from the origin; every range came from the peer's store.
        #expect(setup.origin.gets("/file.bin") == 1)
    }

    @Test func curlAndFFmpegSeekThroughTheGateway() async throws {
        let video = try await Self.testVideo()
        let setup = try await Setup.start(["/clip.mp4": .init(body: video, contentType: "video/mp4")])
        defer { Task { await setup.stop() } }
        let url = setup.url("/clip.mp4")

        let (curlStatus, curled, _) = try await Self.run("/usr/bin/curl", ["-s", "-f", "-r", "2000-2999", url])
        #expect(curlStatus == 0 && curled == Array(video[2000..<3000]))
        // Its index (moov) is at the end: ffprobe reads it by seeking there.
        let (probeStatus, probed, probeErrors) = try await Self.run(
            "/usr/bin/ffprobe", ["-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", url])
        let duration = Double(String(decoding: probed, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
        #expect(probeStatus == 0 && duration.map { abs($0 - 4) < 0.2 } == true, "\(String(decoding: probeErrors, as: UTF8.self))")
        // Seek to 3 s and decode a frame there.
        let (seekStatus, _, seekErrors) = try await Self.run(
            "/usr/bin/ffmpeg", ["-v", "error", "-ss", "3", "-i", url, "-frames:v", "1", "-f", "null", "-"])
        #expect(seekStatus == 0, "\(String(decoding: seekErrors, as: UTF8.self))")
        #expect(setup.origin.gets("/clip.mp4") == 1)
    }

    /// A 4 s MPEG-4 video (320×240, moov at the end, as ffmpeg writes it without faststart).
    static func testVideo() async throws -> [UInt8] {
        try await TestVideo.make(seconds: 4, size: "320x240", rate: 25, encoding: ["-c:v", "mpeg4", "-g", "25"], fileExtension: "mp4")
    }

    /// Runs a command off the cooperative pool: its status, standard output and error.
    static func run(_ executable: String, _ arguments: [String]) async throws -> (Int32, [UInt8], [UInt8]) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let (output, errors) = (Pipe(), Pipe())
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        async let errorBytes = waitOffThePool { errors.fileHandleForReading.readDataToEndOfFile() }
        let outputBytes = await waitOffThePool { output.fileHandleForReading.readDataToEndOfFile() }
        let said = await errorBytes
        await waitOffThePool { process.waitUntilExit() }
        return (process.terminationStatus, Array(outputBytes), Array(said))
    }
}
