import Foundation
import Testing

@testable import FugitiveRTC

/// Swift ↔ Swift with the other peer in a process of its own (`fugitive-bench rtc-peer`).
@Suite("Two processes", .serialized, .timeLimit(.minutes(2)))
struct TwoProcessTests {
    @Test func fiftyMegabytesEachWayBetweenTwoProcesses() async throws {
        try await InteropScenario.run(
            command: [InteropScenario.bench, "rtc-peer"], offerer: .swift, channelOpener: .swift, total: 50_000_000,
            datagramSize: PeerConnection.Configuration.defaultLocalPathMTU)
    }

    @Test func theOtherProcessOffersAndOpens() async throws {
        try await InteropScenario.run(
            command: [InteropScenario.bench, "rtc-peer"], offerer: .peer, channelOpener: .peer,
            datagramSize: PeerConnection.Configuration.defaultLocalPathMTU)
    }
}
