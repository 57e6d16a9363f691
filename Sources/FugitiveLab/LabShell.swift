import Foundation

/// Why the lab could not be built, or a command in it failed (with the command's output).
public struct LabFailure: Error, CustomStringConvertible {
    public let description: String

    public init(_ description: String) { self.description = description }
}

/// Runs the lab's system commands (`ip`, `nft`, `sysctl`, `conntrack`) and waits for them
/// (also the test support's one-namespace `NetworkLab`).
public enum LabShell {
    /// Runs `arguments` (looked up on `PATH`) and returns its standard output; throws with
    /// its standard error when it exits non-zero.
    @discardableResult
    public static func run(_ arguments: [String], input: String? = nil) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        let stdin = Pipe()
        process.standardInput = input == nil ? FileHandle.nullDevice : stdin
        do { try process.run() } catch { throw LabFailure("\(arguments.joined(separator: " ")): \(error)") }
        if let input {
            stdin.fileHandleForWriting.write(Data(input.utf8))
            try? stdin.fileHandleForWriting.close()
        }
        // Standard error on its own thread: a command that fills one pipe while we wait
        // on the other would never end.
        let problem = LockedData()
        let reader = Thread { problem.set(errors.fileHandleForReading.readDataToEndOfFile()) }
        reader.start()
        let text = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        while !problem.isSet { usleep(1000) }
        guard process.terminationStatus == 0 else {
            throw LabFailure(
                "\(arguments.joined(separator: " ")) exited \(process.terminationStatus): \(String(decoding: problem.value, as: UTF8.self))")
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// Like ``run(_:input:)`` for clean-up: a failure is not an error there (the thing may
    /// already be gone).
    public static func attempt(_ arguments: [String]) { _ = try? run(arguments) }
}

/// Bytes one thread sets and another waits for.
private final class LockedData: @unchecked Sendable {
    private let lock = NSLock()
    private var data: Data?

    func set(_ value: Data) { lock.withLock { data = value } }
    var isSet: Bool { lock.withLock { data != nil } }
    var value: Data { lock.withLock { data ?? Data() } }
}
