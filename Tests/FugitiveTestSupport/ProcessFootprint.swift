import Foundation

/// What a process holds, from `/proc`: resident memory, open descriptors, threads.
public struct ProcessFootprint: Sendable, CustomStringConvertible {
    public var residentBytes: Int
    public var descriptors: Int
    public var threads: Int

    public init(of pid: Int32) {
        residentBytes = FugitiveTestSupport.residentBytes(ofProcess: "\(pid)")
        descriptors = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? 0
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        threads =
            status.split(separator: "\n").first { $0.hasPrefix("Threads:") }.flatMap { Int($0.dropFirst(8).trimmingCharacters(in: .whitespaces)) }
            ?? 0
    }

    /// Whether this is back near `baseline`: descriptors and threads within a few (the
    /// runtime's thread pools grow and shrink on their own), memory within `memorySlack`
    /// (the allocator keeps some of what was freed).
    public func isNear(_ baseline: ProcessFootprint, memorySlack: Int = 48 << 20) -> Bool {
        descriptors <= baseline.descriptors + 4 && threads <= baseline.threads + 4 && residentBytes <= baseline.residentBytes + memorySlack
    }

    public var description: String { "\(residentBytes >> 20) MiB, \(descriptors) descriptors, \(threads) threads" }
}
