import Foundation
import FugitiveLab
import Synchronization

/// A network namespace joined to the test's own by a veth pair: addresses other than
/// loopback, a resolver of the test's choosing, and processes that run "elsewhere" — the
/// smallest network lab. Needs root (`make test` and CI run as root).
///
/// The namespace's `/etc/resolv.conf` is `/etc/netns/NAME/resolv.conf` (what `ip netns
/// exec` mounts), so that a process started in the lab resolves names with the test's
/// ``LabNameServer``. ``remove()`` deletes the namespace, the veth pair with it, and that
/// file; call it in a `defer`.
public final class NetworkLab: Sendable {
    public let namespace: String
    /// The veth end in the test's own namespace.
    public let hostInterface: String
    /// The veth end inside the lab.
    public let labInterface: String

    /// - Parameters:
    ///   - hostAddresses: CIDR addresses for the test's end (`11.203.0.1/24`, `fd15::a/64`).
    ///   - labAddresses: CIDR addresses for the lab's end.
    ///   - nameServer: the resolver processes in the lab use (an address on the test's end).
    public init(hostAddresses: [String], labAddresses: [String], nameServer: String? = nil) throws {
        let tag = NetworkLab.nextTag()
        namespace = "fgt-lab-\(tag)"
        hostInterface = "fgth\(tag)"
        labInterface = "fgtl\(tag)"
        try? Self.run(["ip", "netns", "del", namespace])
        try? Self.run(["ip", "link", "del", hostInterface])
        do {
            try Self.run(["ip", "netns", "add", namespace])
            try Self.run(["ip", "link", "add", hostInterface, "type", "veth", "peer", "name", labInterface])
            try Self.run(["ip", "link", "set", labInterface, "netns", namespace])
            for address in hostAddresses { try Self.run(["ip", "addr", "add", address, "dev", hostInterface] + Self.noDAD(address)) }
            try Self.run(["ip", "link", "set", hostInterface, "up"])
            for address in labAddresses { try inLab(["ip", "addr", "add", address, "dev", labInterface] + Self.noDAD(address)) }
            try inLab(["ip", "link", "set", labInterface, "up"])
            try inLab(["ip", "link", "set", "lo", "up"])
            if let nameServer {
                let directory = "/etc/netns/\(namespace)"
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
                try Data("nameserver \(nameServer)\noptions timeout:2 attempts:2\n".utf8).write(to: URL(fileURLWithPath: "\(directory)/resolv.conf"))
            }
        } catch {
            remove()
            throw error
        }
    }

    /// Runs a command inside the lab and returns its standard output; throws with its
    /// standard error when it fails.
    @discardableResult
    public func inLab(_ arguments: [String]) throws -> String {
        try Self.run(["ip", "netns", "exec", namespace] + arguments)
    }

    /// A process that runs `executable` inside the lab (not yet started). Its standard
    /// streams are not the test's: a process left behind by a crashed test would otherwise
    /// hold the test runner's output open, and the runner would wait for it forever.
    public func process(_ executable: String, _ arguments: [String]) -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        process.arguments = ["netns", "exec", namespace, executable] + arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        return process
    }

    /// Deletes the namespace (and with it the veth pair) and its resolver file.
    public func remove() {
        try? Self.run(["ip", "netns", "del", namespace])
        try? Self.run(["ip", "link", "del", hostInterface])
        try? FileManager.default.removeItem(atPath: "/etc/netns/\(namespace)")
    }

    /// IPv6 addresses are usable at once, not after duplicate address detection.
    static func noDAD(_ address: String) -> [String] { address.contains(":") ? ["nodad"] : [] }

    @discardableResult
    static func run(_ arguments: [String]) throws -> String { try LabShell.run(arguments) }

    /// Short and unique per process and lab: interface names are at most 15 bytes.
    static func nextTag() -> String {
        let serial = counter.withLock { value -> Int in
            value += 1
            return value
        }
        return "\(getpid() % 10_000)x\(serial)"
    }

    private static let counter = Mutex(0)
}
