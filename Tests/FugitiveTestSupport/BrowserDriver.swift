import Foundation
import FugitiveTestSupport
import Synchronization

/// Browser peers in headless Chromium (`Tests/Interop/browser_peers.py`), driven by
/// JSON-line commands: one answer per command. One test drives it at a time.
public final class BrowserDriver: @unchecked Sendable {
    private let process: Process
    private let input: FileHandle
    private let lines: AsyncStream<String>
    private var iterator: AsyncStream<String>.Iterator

    static var root: URL { Binaries.repository }

    /// - Parameters:
    ///   - server: `http://host:port` of the orchestrator serving `/fugitive.js`.
    ///   - namespace: a network namespace to run Chromium in (a home of the network lab).
    public init(server: String, namespace: String? = nil) throws {
        let process = Process()
        let python = Self.root.appendingPathComponent(".venv/bin/python").path
        let arguments = [Self.root.appendingPathComponent("Tests/Interop/browser_peers.py").path, "--server", server]
        if let namespace {
            process.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
            process.arguments = ["netns", "exec", namespace, python] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: python)
            process.arguments = arguments
        }
        let stdin = Pipe()
        let stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = FileHandle.nullDevice
        try process.run()
        self.process = process
        input = stdin.fileHandleForWriting
        let (lines, sink) = AsyncStream.makeStream(of: String.self)
        self.lines = lines
        iterator = lines.makeAsyncIterator()
        let reader = stdout.fileHandleForReading
        // A thread of its own: reading a pipe blocks.
        Thread.detachNewThread {
            var pending = Data()
            while true {
                let data = reader.availableData
                if data.isEmpty { break }
                pending.append(data)
                while let newline = pending.firstIndex(of: 0x0a) {
                    sink.yield(String(decoding: pending[pending.startIndex..<newline], as: UTF8.self))
                    pending = Data(pending[(newline + 1)...])
                }
            }
            sink.finish()
        }
    }

    /// Sends one command and returns its answer.
    public func send(_ command: [String: Any], timeout: Duration = .seconds(60)) async throws -> [String: Any] {
        let data = try JSONSerialization.data(withJSONObject: command)
        input.write(data + Data([0x0a]))
        guard let line = await iterator.next() else { throw TestFailure("the browser driver ended") }
        guard let answer = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
            throw TestFailure("not an answer: \(line)")
        }
        return answer
    }

    public func quit() async {
        input.write(Data("{\"op\": \"quit\"}\n".utf8))
        try? input.close()
        let process = self.process
        await waitOffThePool {
            let deadline = Date().addingTimeInterval(10)
            while process.isRunning && Date() < deadline { usleep(50_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
    }
}
