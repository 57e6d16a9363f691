import Testing

/// FugitiveRTC against headless Chromium (Debian's `chromium`, driven by Playwright).
@Suite("Interop: Chromium", .serialized, .timeLimit(.minutes(1)))
struct ChromiumInteropTests {
    @Test(arguments: [
        (InteropScenario.Side.swift, InteropScenario.Side.swift), (.swift, .peer), (.peer, .swift), (.peer, .peer),
    ])
    func tenMegabytesEachWay(offerer: InteropScenario.Side, channelOpener: InteropScenario.Side) async throws {
        try await InteropScenario.run(script: "Tests/Interop/chromium_peer.py", offerer: offerer, channelOpener: channelOpener)
    }
}
