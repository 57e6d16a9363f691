import ArgumentParser

/// The `fugitive` command, the user's tool: thin wiring of the library targets. The
/// benchmarks are `fugitive-bench`.
@main
struct Fugitive: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fugitive",
        abstract: "Fugitive: an orchestrated peer-to-peer delivery network.",
        subcommands: [DemoCommand.self, GetCommand.self, ServerCommand.self, PeerCommand.self]
    )
}
