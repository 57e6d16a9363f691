import ArgumentParser

/// `fugitive-bench …`: the benchmarks, each printing numbers next to a reference measured
/// in the same run, and the helpers that tests and benchmarks start as processes of their
/// own (`rtc-peer`, `rtc-churn`, the floor servers). The user's tool is `fugitive`; this
/// one starts it (the `fugitive` binary beside it) where a benchmark needs a real server.
@main
struct FugitiveBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fugitive-bench",
        abstract: "Fugitive's benchmarks (and the processes its tests start).",
        subcommands: [
            WireBench.self, SignalBench.self, RTCBench.self, RelayFloorServer.self, NIORelayFloorServer.self, RTCPeerCommand.self,
            RTCChurnCommand.self, LinkBench.self, NetBench.self,
        ]
    )
}
