import Testing

/// FugitiveRTC against aiortc (Python, from PyPI in the repo's venv).
@Suite("Interop: aiortc", .serialized, .timeLimit(.minutes(1)))
struct AiortcInteropTests {
    @Test(arguments: [
        (InteropScenario.Side.swift, InteropScenario.Side.swift), (.swift, .peer), (.peer, .swift), (.peer, .peer),
    ])
    func tenMegabytesEachWay(offerer: InteropScenario.Side, channelOpener: InteropScenario.Side) async throws {
        try await InteropScenario.run(script: "Tests/Interop/aiortc_peer.py", offerer: offerer, channelOpener: channelOpener)
    }
}
