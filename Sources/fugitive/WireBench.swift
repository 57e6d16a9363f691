import ArgumentParser
import FugitiveWire

struct WireBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "wire", abstract: "Encode/decode throughput of wire messages.")
    func run() async throws {}
}
