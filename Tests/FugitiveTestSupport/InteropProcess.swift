import Foundation
import Synchronization

/// A helper process (Python, a browser driver, `fugitive-bench rtc-peer`) that signals
/// over JSON lines on its stdin/stdout; its stderr goes to a file shown when a test fails.
public final class InteropProcess: Sendable {
    public let messages: AsyncStream<[String: any Sendable]>
    private let process: Process
    private let input: FileHandle
    let stderrPath: String

    /// The repository's root.
    public static var root: URL { Binaries.repository }

    public init(_ executable: String, _ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.currentDirectoryURL = Self.root
        let stdin = Pipe()
        let stdout = Pipe()
        stderrPath = NSTemporaryDirectory() + "interop-\(UUID().uuidString).log"
        FileManager.default.createFile(atPath: stderrPath, contents: nil)
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = FileHandle(forWritingAtPath: stderrPath)
        let (stream, continuation) = AsyncStream.makeStream(of: [String: any Sendable].self)
        messages = stream
        let buffer = Mutex(Data())
        stdout.fileHandleForReading.readabilityHandler = { handle in
            let chunk = handle.availableData
            if chunk.isEmpty {
                handle.readabilityHandler = nil
                continuation.finish()
                return
            }
            let lines = buffer.withLock { buffer -> [Data] in
                buffer.append(chunk)
                var lines: [Data] = []
                while let end = buffer.firstIndex(of: 0x0a) {
                    lines.append(buffer[buffer.startIndex..<end])
                    buffer.removeSubrange(buffer.startIndex...end)
                }
                return lines
            }
            for line in lines {
                if let object = try? JSONSerialization.jsonObject(with: line) as? [String: Any] {
                    continuation.yield(object.compactMapValues { $0 as? String ?? ($0 as? Int).map { "\($0)" } })
                }
            }
        }
        try process.run()
        self.process = process
        self.input = stdin.fileHandleForWriting
    }

    public func send(_ message: [String: Any]) {
        guard let data = try? JSONSerialization.data(withJSONObject: message) else { return }
        try? input.write(contentsOf: data + Data([0x0a]))
    }

    public var processIdentifier: Int32 { process.processIdentifier }

    /// What the process wrote on stderr (for failure messages).
    public var diagnostics: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    /// Closes the process's stdin (the drivers then close their peer and exit), and
    /// kills it if it is still there after 5 s. SIGKILL, because a child spawned from a
    /// thread that blocks signals (Dispatch's workers do) inherits the mask.
    public func terminate() {
        try? input.close()
        let deadline = Date().addingTimeInterval(5)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        try? FileManager.default.removeItem(atPath: stderrPath)
    }
}
