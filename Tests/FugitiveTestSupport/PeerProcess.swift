import Foundation
import Synchronization

/// A `fugitive peer` process (the release build under `make test`) and the JSON events
/// it prints, one object per line on standard output; standard error is kept too.
public final class PeerProcess: Sendable {
    public let process: Process
    private let output = Output()

    /// What the process printed so far (its reader threads fill it).
    private final class Output: Sendable {
        let state = Mutex<(events: [[String: String]], errors: String)>(([], ""))
        func withLock<T>(_ body: (inout (events: [[String: String]], errors: String)) -> T) -> T { state.withLock { body(&$0) } }
    }

    /// Starts `process` (arguments set by the caller) with both outputs read on threads.
    public init(_ process: Process) throws {
        self.process = process
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

    /// `fugitive peer --server SERVER --swarm SWARM --log-level LEVEL [--fetch URL]… EXTRA…`.
    public static func arguments(server: String, swarm: String, fetches: [String] = [], extra: [String] = []) -> [String] {
        let level = ProcessInfo.processInfo.environment["FUGITIVE_LAB_LOG_LEVEL"] ?? "warning"
        var arguments = ["peer", "--server", server, "--swarm", swarm, "--log-level", level]
        for url in fetches { arguments += ["--fetch", url] }
        return arguments + extra
    }

    public var events: [[String: String]] { output.withLock { $0.events } }
    public var errors: String { output.withLock { $0.errors } }
    public var isRunning: Bool { process.isRunning }
    public var pid: Int32 { process.processIdentifier }

    /// The first event named `name` that `matches`, waiting up to `timeout` for it.
    public func event(
        _ name: String, within timeout: Duration, describedAs who: String = "peer",
        where matches: @Sendable ([String: String]) -> Bool = { _ in true }
    ) async throws -> [String: String] {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let found = events.first(where: { $0["event"] == name && matches($0) }) { return found }
            guard ContinuousClock.now < deadline, process.isRunning else {
                throw TestFailure(
                    "\(who): no \(name) event within \(timeout) (running: \(process.isRunning)); events: \(events); stderr: \(errors.suffix(2000))")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// This peer's id, once it has joined.
    public func id(within timeout: Duration = .seconds(10)) async throws -> String {
        try await event("joined", within: timeout)["id"] ?? ""
    }

    /// SIGTERM (a graceful stop), and waits for the exit.
    public func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
    }

    /// SIGKILL: the peer vanishes without a word.
    public func kill() {
        if process.isRunning {
            Foundation.kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }
}
