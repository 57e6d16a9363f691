import ArgumentParser

/// `fugitive bench …`: benchmarks that print numbers next to a reference measured in the same run.
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a benchmark.",
        subcommands: [WireBench.self, SignalBench.self, RTCBench.self, RelayFloorServer.self, NIORelayFloorServer.self]
    )
}
