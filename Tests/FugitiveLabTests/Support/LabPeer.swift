import Foundation
import FugitiveLab
import FugitiveTestSupport
import Synchronization

/// A `fugitive peer` (the release build under `make test`) on a lab host, and the JSON
/// events it prints.
final class LabPeer: Sendable {
    let host: InternetLab.Host
    private let process: Process
    private let output = Output()

    /// What the process printed so far (its reader threads fill it).
    private final class Output: Sendable {
        let state = Mutex<(events: [[String: String]], errors: String)>(([], ""))
        func withLock<T>(_ body: (inout (events: [[String: String]], errors: String)) -> T) -> T { state.withLock { body(&$0) } }
    }

    /// Starts the peer in `host`'s namespace; it joins `swarm` at `server` and fetches `fetches` once it runs.
    init(in lab: InternetLab, on host: InternetLab.Host, server: String, swarm: String, fetches: [String] = [], extra: [String] = []) throws {
        self.host = host
        let level = ProcessInfo.processInfo.environment["FUGITIVE_LAB_LOG_LEVEL"] ?? "warning"
        var arguments = ["peer", "--server", server, "--swarm", swarm, "--log-level", level]
        for url in fetches { arguments += ["--fetch", url] }
        arguments += extra
        process = lab.process(in: host.namespace, Binaries.fugitive.path, arguments)
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        let output = self.output
        Thread {
            var pending = Data()
            while true {
                let more = stdout.fileHandleForReading.availableData
                if more.isEmpty { break }
                pending.append(more)
                while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                    let line = pending[pending.startIndex..<newline]
                    pending = Data(pending[pending.index(after: newline)...])
                    if let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: String] {
                        output.withLock { $0.events.append(object) }
                    }
                }
            }
        }.start()
        Thread {
            while true {
                let more = stderr.fileHandleForReading.availableData
                if more.isEmpty { break }
                output.withLock { $0.errors += String(decoding: more, as: UTF8.self) }
            }
        }.start()
    }

    var events: [[String: String]] { output.withLock { $0.events } }
    var errors: String { output.withLock { $0.errors } }

    /// The first event named `name` that `matches`, waiting up to `timeout` for it.
    func event(
        _ name: String, within timeout: Duration, where matches: @Sendable ([String: String]) -> Bool = { _ in true }
    ) async throws -> [String: String] {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let found = events.first(where: { $0["event"] == name && matches($0) }) { return found }
            guard ContinuousClock.now < deadline, process.isRunning else {
                throw TestFailure(
                    "\(host): no \(name) event within \(timeout) (running: \(process.isRunning)); events: \(events); stderr: \(errors.suffix(2000))")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// This peer's id, once it has joined.
    func id(within timeout: Duration = .seconds(10)) async throws -> String {
        try await event("joined", within: timeout)["id"] ?? ""
    }

    var isRunning: Bool { process.isRunning }

    func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
    }
}
