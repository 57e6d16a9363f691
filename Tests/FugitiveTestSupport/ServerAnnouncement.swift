import Foundation

/// Starts `process` (a `fugitive server`, or anything that prints the same line) with its
/// standard output on a pipe, and waits for the first line it prints — `… listening on
/// ws://HOST:PORT/v1/signal` once it serves. Returns that line and the port in it; no port
/// when the process ended (or said something else) first.
public func runAndAwaitAnnouncement(_ process: Process) async throws -> (line: String, port: Int?) {
    let output = Pipe()
    process.standardOutput = output
    try process.run()
    let line = await waitOffThePool {
        var text = ""
        while !text.contains("\n") {
            let more = output.fileHandleForReading.availableData
            if more.isEmpty { break }
            text += String(decoding: more, as: UTF8.self)
        }
        return text
    }
    return (line, line.firstMatch(of: /:(\d+)\/v1\/signal/).flatMap { Int($0.1) })
}
