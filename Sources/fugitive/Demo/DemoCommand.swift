import ArgumentParser
import Foundation
import FugitivePeer
import FugitiveServer
import FugitiveStore
import Logging
import Prometheus
import ServiceLifecycle

/// `fugitive demo`: the orchestrator, an origin serving a generated catalogue, and N
/// native peers that join with staggered starts and each fetch the whole catalogue over
/// real WebRTC — with live progress, then a summary of where the bytes came from.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo", abstract: "Run a whole swarm on this machine and show where the bytes come from.")

    @Option(help: "Native peers.") var peers = 8
    @Option(help: "Resources in the catalogue.") var resources = 40
    @Option(help: "Largest resource, in bytes (sizes range from a tenth of it).") var size = 512 * 1024
    @Option(help: "Seed of the generated catalogue.") var seed: UInt64 = 1
    @Option(help: "Milliseconds between two peers' starts.") var stagger = 300
    @Option(help: "Orchestrator port (0: any free one).") var port = 0
    @Flag(help: "Print the summary as one JSON object (and no progress).") var json = false
    @Flag(help: "Stay up after the summary (for the dashboard) until SIGINT or SIGTERM.") var keep = false

    func validate() throws {
        guard (2...64).contains(peers) else { throw ValidationError("--peers must be 2…64") }
        guard (1...10_000).contains(resources) else { throw ValidationError("--resources must be 1…10000") }
        guard (1024...(64 << 20)).contains(size) else { throw ValidationError("--size must be 1 KiB…64 MiB") }
    }

    func run() async throws {
        var logger = Logger(label: "fugitive.demo")
        logger.logLevel = .error
        let catalogue = DemoCatalogue(count: resources, maxSize: size, seed: seed)
        var serverConfiguration = ServerConfiguration()
        serverConfiguration.port = port
        // Every demo peer connects from 127.0.0.1.
        serverConfiguration.orchestrator.connectionsPerIP = max(serverConfiguration.orchestrator.connectionsPerIP, peers * 2)
        let (serverPorts, serverPort) = AsyncStream.makeStream(of: Int.self)
        let server = try OrchestratorServer(configuration: serverConfiguration, registry: PrometheusCollectorRegistry(), logger: logger) {
            serverPort.yield($0)
        }
        let (originPorts, originPort) = AsyncStream.makeStream(of: Int.self)
        let origin = DemoOrigin(catalogue: catalogue, logger: logger) { originPort.yield($0) }
        let services = ServiceGroup(
            configuration: .init(
                services: [server, origin.application], gracefulShutdownSignals: keep ? [.sigterm, .sigint] : [], logger: logger))
        let running = Task { try await services.run() }
        var serverIterator = serverPorts.makeAsyncIterator()
        var originIterator = originPorts.makeAsyncIterator()
        guard let boundServer = await serverIterator.next(), let boundOrigin = await originIterator.next() else {
            throw ValidationError("the orchestrator or the origin did not start")
        }
        let signalURL = "ws://127.0.0.1:\(boundServer)/v1/signal"
        let originURL = "http://127.0.0.1:\(boundOrigin)"
        if !json {
            print("Fugitive demo: \(peers) peers, \(resources) resources (\(DemoProgress.megabytes(catalogue.totalBytes)) MB), origin \(originURL)")
            print("Dashboard: http://127.0.0.1:\(boundServer)/dashboard   stats: http://127.0.0.1:\(boundServer)/v1/stats")
            // Scripts wait for these lines; stdout to a file is block-buffered otherwise.
            fflush(nil)
        }

        let swarm = DemoSwarm(count: peers, signalURL: signalURL, swarmKey: originURL, logger: logger)
        let progress = DemoProgress(peers: peers, resources: resources, live: !json && isatty(STDOUT_FILENO) == 1, quiet: json)
        let renderer = Task { await progress.render(until: { swarm.finished(resources: resources) }) { swarm.snapshot() } }
        await swarm.run(catalogue: catalogue, originURL: originURL, stagger: .milliseconds(stagger))
        await renderer.value

        let summary = DemoSummary(
            peers: peers, resources: resources, originBytes: origin.counters.value.withLock { $0.bytes }, records: swarm.records(),
            links: swarm.linkCount())
        if json {
            print(summary.json())
        } else {
            print(summary.table())
        }
        if keep {
            if !json {
                let paths = catalogue.pictures.map(\.path).joined(separator: ",")
                print("Staying up (Ctrl-C to stop). Dashboard: http://127.0.0.1:\(boundServer)/dashboard")
                print("Browser gallery through the same swarm: http://127.0.0.1:\(boundServer)/demo?origin=\(originURL)&paths=\(paths)")
                fflush(nil)
            }
            _ = try? await running.value
        } else {
            await services.triggerGracefulShutdown()
            _ = try? await running.value
        }
        await swarm.stop()
    }
}
