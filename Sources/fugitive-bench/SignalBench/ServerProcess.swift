import Foundation

/// A server started as a child process of the benchmark, so that its memory and CPU are
/// measured apart from the load generator's.
final class ServerProcess {
    let process = Process()
    let port: Int

    /// Which binary runs the server: the user's `fugitive` beside this one, or this
    /// `fugitive-bench` (for the floors).
    enum Binary {
        case fugitive, bench

        var url: URL {
            let own = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
            switch self {
            case .bench: return own
            case .fugitive: return own.deletingLastPathComponent().appendingPathComponent("fugitive")
            }
        }
    }

    /// Starts `binary <arguments>` and waits for the line announcing the port
    /// (`… listening on ws://host:PORT/…`).
    init(_ binary: Binary = .fugitive, arguments: [String]) throws {
        process.executableURL = binary.url
        guard FileManager.default.isExecutableFile(atPath: binary.url.path) else {
            throw BenchError("\(binary.url.path) is missing: build the fugitive product too")
        }
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.standardError
        try process.run()
        var line = Data()
        let reader = output.fileHandleForReading
        while !line.contains(UInt8(ascii: "\n")) {
            let more = reader.availableData
            guard !more.isEmpty else { throw BenchError("server exited before announcing its port") }
            line += more
        }
        let text = String(decoding: line, as: UTF8.self)
        guard let range = text.range(of: #":(\d+)/"#, options: .regularExpression),
            let port = Int(text[range].dropFirst().dropLast())
        else { throw BenchError("no port in '\(text)'") }
        self.port = port
    }

    var pid: Int32 { process.processIdentifier }

    /// Resident memory in bytes (VmRSS).
    func residentBytes() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
            let kB = Int(line.split(separator: " ")[1])
        else { return 0 }
        return kB * 1024
    }

    /// User + system CPU time consumed so far, in microseconds.
    func cpuMicros() -> Double {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return 0 }
        // Fields after the command name; utime and stime are fields 14 and 15 overall.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        let ticks = (Double(fields[11]) ?? 0) + (Double(fields[12]) ?? 0)
        return ticks * 1e6 / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    func stop() {
        process.terminate()
        process.waitUntilExit()
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Percentile of already sorted values.
func percentile(_ sorted: [Double], _ p: Double) -> Double {
    guard !sorted.isEmpty else { return .nan }
    return sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * p).rounded()))]
}

/// Raises the soft open-files limit to the hard one (each peer is a socket).
func raiseFileLimit() -> Int {
    var limit = rlimit()
    getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    limit.rlim_cur = limit.rlim_max
    setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    return Int(limit.rlim_cur)
}
