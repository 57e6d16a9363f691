import Foundation
import Testing

@testable import FugitiveRTC

/// What happens when things go wrong: a peer that vanishes, ICE with nothing usable,
/// and many connections opened and closed (no descriptor or memory left behind).
@Suite("Failures and lifetimes", .serialized, .timeLimit(.minutes(2)))
struct FailureTests {
    @Test func aKilledPeerIsNoticedWithinSeconds() async throws {
        let session = try await InteropScenario.connect(
            command: [InteropScenario.fugitive, "rtc-peer"], offerer: .swift, channelOpener: .swift, total: 1 << 30)
        defer { session.end() }
        try await session.channel.send(.binary([1, 2, 3]))
        let start = ContinuousClock.now
        kill(session.peer.processIdentifier, SIGKILL)
        var final: PeerConnection.State?
        for await state in session.connection.states { final = state }
        let elapsed = ContinuousClock.now - start
        #expect(final == .closed || { if case .failed = final { true } else { false } }())
        #expect(elapsed < .seconds(30), "took \(elapsed)")
        #expect(session.channel.isClosed)
        // The channel's messages end rather than hang.
        for await _ in session.channel.messages {}
        await #expect(throws: RTCError.self) { try await session.channel.send(.binary([4])) }
    }

    @Test func iceWithNoUsableCandidateFailsWithAClearError() async throws {
        let loop = GLibEventLoop()
        let (a, b) = try (PeerConnection(configuration: .init(localAddresses: ["127.0.0.1"]), loop: loop, logger: PeerConnectionTests.logger),
                          PeerConnection(configuration: .init(localAddresses: ["127.0.0.1"]), loop: loop, logger: PeerConnectionTests.logger))
        defer { a.close(); b.close() }
        try b.setRemoteDescription(SessionDescription(kind: .offer, sdp: try a.createOffer().sdp))
        try a.setRemoteDescription(SessionDescription(kind: .answer, sdp: try b.createAnswer().sdp))
        // Instead of b's real candidates, one where nothing listens (the discard port).
        a.addRemoteCandidate(try TrickledCandidate(candidateString: "candidate:1 1 udp 2130706431 127.0.0.1 9 typ host", mid: "0"))
        a.addRemoteCandidate(.endOfCandidates(mid: "0"))
        var final: PeerConnection.State?
        for await state in a.states { final = state }
        guard case .failed(let error) = final else {
            Issue.record("a ended as \(String(describing: final))")
            return
        }
        #expect(error.code == .iceFailed)
        await #expect(throws: RTCError.self) { _ = try await a.createDataChannel(label: "never") }
    }

    @Test func aHundredConnectionsOpenedAndClosedLeaveNothingBehind() async throws {
        let loop = GLibEventLoop()
        func cycle() async throws {
            let (a, b) = try (PeerConnection(configuration: .init(localAddresses: ["127.0.0.1"]), loop: loop, logger: PeerConnectionTests.logger),
                              PeerConnection(configuration: .init(localAddresses: ["127.0.0.1"]), loop: loop, logger: PeerConnectionTests.logger))
            try await PeerConnectionTests.connect(a, b)
            let channel = try await a.createDataChannel(label: "c")
            try await channel.send(.binary([UInt8](repeating: 7, count: 100_000)))
            a.close()
            b.close()
        }
        /// Descriptors and resident memory once closing agents have been torn down.
        func settle() async throws -> (descriptors: Int, residentKiB: Int) {
            try await Task.sleep(for: .milliseconds(300))
            let descriptors = try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count
            let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
            let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
            return (descriptors, Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0)
        }
        // Warm-up: allocator pools, usrsctp's tables and GLib's caches reach their size.
        for _ in 0..<10 { try await cycle() }
        let before = try await settle()
        for _ in 0..<100 { try await cycle() }
        let after = try await settle()
        #expect(after.descriptors <= before.descriptors, "descriptors \(before.descriptors) → \(after.descriptors)")
        // A leaked connection holds well over 100 KiB (buffers, certificates, SCTP state):
        // 100 of them would add 10+ MiB.
        #expect(after.residentKiB - before.residentKiB < 4096, "resident \(before.residentKiB) KiB → \(after.residentKiB) KiB")
    }
}
