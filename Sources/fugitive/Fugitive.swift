import ArgumentParser

/// The `fugitive` command: thin wiring of the library targets.
@main
struct Fugitive: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fugitive",
        abstract: "Fugitive: an orchestrated peer-to-peer delivery network.",
        subcommands: [DemoCommand.self, GetCommand.self, ServerCommand.self, PeerCommand.self, Bench.self, RTCPeerCommand.self, RTCChurnCommand.self]
    )
}
