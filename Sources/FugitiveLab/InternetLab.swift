import Foundation
import Synchronization

/// A small internet in network namespaces: a public segment (a bridge) that holds the
/// lab's services and public hosts, and homes behind routers that NAT and firewall as
/// real ones do. The test's own namespace sits on the public segment too (at
/// ``testAddresses``), so a test serves origins and DNS from its own process and reaches
/// the services; homes are reachable from nowhere but through their router.
///
/// ```
///   test process 11.77.0.1, .2 ─┐
///   services (``serviceNamespace``) 11.77.0.3, .4 ─ bridge ─┬─ public host 11.77.0.100+i
///                                                          └─ router 11.77.0.10+n ─ LAN 10.77.n.0/24 ─ host 10.77.n.10+k
/// ```
///
/// Needs root. Every namespace, process and file the lab makes is removed by ``remove()``
/// (call it in a `defer`); a lab left behind by a run that was killed is removed by the next
/// lab that starts (its namespaces are named after the process that made them).
public final class InternetLab: Sendable {
    /// A home: one router of the given kind and the hosts on its LAN.
    public struct Home: Sendable {
        public var kind: NATKind
        public var hosts: Int
        /// The router lets no UDP out but DNS: ICE needs TURN over TCP or TLS.
        public var blocksUDP: Bool
        /// What the path between the router and the public segment adds (nil: a plain
        /// veth, as fast as the kernel carries frames).
        public var uplink: LinkShape?

        public init(_ kind: NATKind, hosts: Int = 1, blocksUDP: Bool = false, uplink: LinkShape? = nil) {
            precondition(kind != .none, "a public host is not a home")
            precondition(kind != .fullCone || hosts == 1, "a full cone forwards to one host")
            self.kind = kind
            self.hosts = hosts
            self.blocksUDP = blocksUDP
            self.uplink = uplink
        }
    }

    /// A machine in the lab that runs processes: a public host or a host in a home.
    public struct Host: Sendable, CustomStringConvertible {
        /// `public-1`, `full-cone-2a`, …: the kind, the home's number, the host's letter.
        public let name: String
        public let namespace: String
        public let address: String
        /// How it reaches the public segment.
        public let kind: NATKind
        /// Its home's number (nil for a public host); hosts of one home share a LAN.
        public let home: Int?
        public let blocksUDP: Bool

        public var description: String { "\(name) (\(address))" }
    }

    /// The test's own addresses on the public segment (origins, name server, in-process servers).
    public static let testAddresses = ["11.77.0.1", "11.77.0.2"]
    /// The services' addresses (the orchestrator, coturn, the probe's server): in ``serviceNamespace``.
    public static let serviceAddresses = ["11.77.0.3", "11.77.0.4"]

    public let tag: String
    /// The namespace that holds the public bridge and the services.
    public let serviceNamespace: String
    public let hosts: [Host]
    let homes: [Home]
    let routers: [String]
    let testInterface: String
    private let started = Mutex<[Process]>([])
    /// The stages that carry shaped uplinks, by home number.
    let stages = Mutex<[Int: LinkStage]>([:])

    /// Builds the lab. `nameServer`: what processes in the lab resolve names with (usually
    /// one of ``testAddresses``).
    public init(homes: [Home], publicHosts: Int = 0, nameServer: String? = nil) throws {
        Self.removeLeftovers()
        let tag = Self.nextTag()
        self.tag = tag
        self.homes = homes
        serviceNamespace = "fgn-\(tag)-net"
        testInterface = "fgn\(tag.replacingOccurrences(of: "-", with: "x"))"
        var hosts: [Host] = []
        var routers: [String] = []
        for index in 0..<publicHosts {
            hosts.append(
                Host(
                    name: "public-\(index + 1)", namespace: "fgn-\(tag)-p\(index + 1)", address: "11.77.0.\(100 + index)", kind: .none,
                    home: nil, blocksUDP: false))
        }
        for (index, home) in homes.enumerated() {
            let number = index + 1
            routers.append("fgn-\(tag)-r\(number)")
            for k in 0..<home.hosts {
                let letter = String(UnicodeScalar(UInt8(97 + k)))
                hosts.append(
                    Host(
                        name: "\(home.kind)-\(number)\(letter)\(home.blocksUDP ? "-noudp" : "")", namespace: "fgn-\(tag)-h\(number)\(letter)",
                        address: "10.77.\(number).\(10 + k)", kind: home.kind, home: number, blocksUDP: home.blocksUDP))
            }
        }
        self.hosts = hosts
        self.routers = routers
        do {
            try build(nameServer: nameServer)
        } catch {
            remove()
            throw error
        }
    }

    /// The host called `name`.
    public func host(_ name: String) -> Host? { hosts.first { $0.name == name } }

    /// Runs a command inside `namespace` and returns its standard output.
    @discardableResult
    public func run(in namespace: String, _ arguments: [String]) throws -> String {
        try LabShell.run(["ip", "netns", "exec", namespace] + arguments)
    }

    /// A process that runs `executable` in `namespace` (not yet started), ended by
    /// ``remove()`` if still running. Its standard streams are the null device unless the
    /// caller sets them: a process left behind must not hold the test runner's output open.
    public func process(in namespace: String, _ executable: String, _ arguments: [String]) -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        process.arguments = ["netns", "exec", namespace, executable] + arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        started.withLock { $0.append(process) }
        return process
    }

    /// Flushes a home router's connection tracking: every NAT mapping it holds is gone (the
    /// next packet of a flow gets a new one, or is dropped as a stranger's).
    public func flushMappings(home: Int) throws {
        try run(in: routers[home - 1], ["conntrack", "-F"])
    }

    /// Rebinds every flow of a home: the router takes its public ports from another range
    /// from now on (`range`, e.g. `20000-29999`) and forgets its mappings, so each flow's
    /// next packet leaves from a new public port — what a NAT does after a reboot, or a
    /// carrier-grade NAT that moves a subscriber. Its kind stays the same.
    public func rebindMappings(home: Int, range: String) throws {
        let members = hosts.filter { $0.home == home }
        let rules = RouterRules.ruleset(kind: homes[home - 1].kind, host: members[0].address, blocksUDP: homes[home - 1].blocksUDP, portRange: range)
        try LabShell.run(["ip", "netns", "exec", routers[home - 1], "nft", "-f", "-"], input: rules)
        try flushMappings(home: home)
    }

    /// Cuts (or restores) a home router's link to the public segment.
    public func setUplink(home: Int, up: Bool) throws {
        try run(in: routers[home - 1], ["ip", "link", "set", "dev", "wan", up ? "up" : "down"])
    }

    /// Ends every process the lab started and deletes its namespaces and files.
    public func remove() {
        let processes = started.withLock { $0 }
        for process in processes where process.isRunning { process.terminate() }
        for stage in stages.withLock({ $0.values }) { stage.stop() }
        Self.removeNamespaces(allNamespaces)
        LabShell.attempt(["ip", "link", "del", testInterface])
    }

    var allNamespaces: [String] { [serviceNamespace] + routers + hosts.map(\.namespace) }

    // MARK: - Building

    private func build(nameServer: String?) throws {
        for namespace in allNamespaces {
            try LabShell.run(["ip", "netns", "add", namespace])
            // IPv4 only, so that no IPv6 link-local path joins what the NATs separate.
            try run(in: namespace, ["sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"])
            try run(in: namespace, ["ip", "link", "set", "dev", "lo", "up"])
            if let nameServer {
                let directory = "/etc/netns/\(namespace)"
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
                try Data("nameserver \(nameServer)\noptions timeout:2 attempts:2\n".utf8).write(
                    to: URL(fileURLWithPath: "\(directory)/resolv.conf"))
            }
        }
        let net = serviceNamespace
        try run(in: net, ["ip", "link", "add", "name", "pub0", "type", "bridge"])
        try run(in: net, ["ip", "link", "set", "dev", "pub0", "up"])
        for address in Self.serviceAddresses { try run(in: net, ["ip", "addr", "add", "\(address)/24", "dev", "pub0"]) }
        // The test's namespace on the bridge.
        try LabShell.run(["ip", "link", "add", "name", testInterface, "type", "veth", "peer", "name", "t", "netns", net])
        LabShell.attempt(["sysctl", "-q", "-w", "net.ipv6.conf.\(testInterface).disable_ipv6=1"])
        for address in Self.testAddresses { try LabShell.run(["ip", "addr", "add", "\(address)/24", "dev", testInterface]) }
        try LabShell.run(["ip", "link", "set", "dev", testInterface, "up"])
        try plug("t", into: net)
        try addUpstream(in: net, device: "pub0")
        for host in hosts where host.home == nil {
            try LabShell.run([
                "ip", "link", "add", "name", "p\(host.name.split(separator: "-").last!)", "netns", net, "type", "veth", "peer", "name", "eth0",
                "netns", host.namespace,
            ])
            try plug("p\(host.name.split(separator: "-").last!)", into: net)
            try run(in: host.namespace, ["ip", "addr", "add", "\(host.address)/24", "dev", "eth0"])
            try run(in: host.namespace, ["ip", "link", "set", "dev", "eth0", "up"])
            try addUpstream(in: host.namespace, device: "eth0")
        }
        for (index, home) in homes.enumerated() { try buildHome(number: index + 1, home) }
    }

    /// A default route, as every machine on the internet has, to an upstream that drops
    /// what it gets: a packet to another home's private address is lost on the way, as on
    /// the internet, instead of failing at once with "network unreachable" (coturn ends an
    /// allocation whose relay gets that error, and ICE would learn what it cannot know).
    private func addUpstream(in namespace: String, device: String) throws {
        try run(in: namespace, ["ip", "neigh", "add", Self.upstream, "lladdr", "02:00:00:00:00:fe", "dev", device, "nud", "permanent"])
        try run(in: namespace, ["ip", "route", "add", "default", "via", Self.upstream, "dev", device])
    }

    /// The upstream's address on the public segment: no machine has it (nor its MAC).
    static let upstream = "11.77.0.254"

    private func plug(_ port: String, into net: String) throws {
        try run(in: net, ["ip", "link", "set", "dev", port, "master", "pub0"])
        try run(in: net, ["ip", "link", "set", "dev", port, "up"])
    }

    private func buildHome(number: Int, _ home: Home) throws {
        let router = routers[number - 1]
        if let shape = home.uplink {
            let stage = try plugStage(home: number, shape: shape, router: router)
            stages.withLock { $0[number] = stage }
        } else {
            try LabShell.run([
                "ip", "link", "add", "name", "r\(number)", "netns", serviceNamespace, "type", "veth", "peer", "name", "wan", "netns", router,
            ])
        }
        try plug("r\(number)", into: serviceNamespace)
        try run(in: router, ["ip", "addr", "add", "11.77.0.\(10 + number)/24", "dev", "wan"])
        try run(in: router, ["ip", "link", "set", "dev", "wan", "up"])
        try addUpstream(in: router, device: "wan")
        try run(in: router, ["ip", "link", "add", "name", "lan", "type", "bridge"])
        try run(in: router, ["ip", "addr", "add", "10.77.\(number).1/24", "dev", "lan"])
        try run(in: router, ["ip", "link", "set", "dev", "lan", "up"])
        let members = hosts.filter { $0.home == number }
        for (k, host) in members.enumerated() {
            try LabShell.run(["ip", "link", "add", "name", "h\(k)", "netns", router, "type", "veth", "peer", "name", "eth0", "netns", host.namespace])
            try run(in: router, ["ip", "link", "set", "dev", "h\(k)", "master", "lan"])
            try run(in: router, ["ip", "link", "set", "dev", "h\(k)", "up"])
            try run(in: host.namespace, ["ip", "addr", "add", "\(host.address)/24", "dev", "eth0"])
            try run(in: host.namespace, ["ip", "link", "set", "dev", "eth0", "up"])
            try run(in: host.namespace, ["ip", "route", "add", "default", "via", "10.77.\(number).1"])
        }
        try run(in: router, ["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"])
        // Where br_netfilter is loaded, frames bridged between two hosts of the LAN would go
        // through the router's IP firewall: a LAN switch does not filter.
        for table in ["iptables", "arptables"] {
            LabShell.attempt(["ip", "netns", "exec", router, "sysctl", "-q", "-w", "net.bridge.bridge-nf-call-\(table)=0"])
        }
        let rules = RouterRules.ruleset(kind: home.kind, host: members[0].address, blocksUDP: home.blocksUDP)
        try LabShell.run(["ip", "netns", "exec", router, "nft", "-f", "-"], input: rules)
    }

    // MARK: - Names and leftovers

    /// `PID-SERIAL`: unique per process and lab, and it names the process that made it.
    static func nextTag() -> String {
        let serial = counter.withLock { value -> Int in
            value += 1
            return value
        }
        return "\(getpid())-\(serial)"
    }

    private static let counter = Mutex(0)

    static func removeNamespaces(_ namespaces: [String]) {
        for namespace in namespaces {
            // Processes outlive their namespace's name: end them first.
            let pids = (try? LabShell.run(["ip", "netns", "pids", namespace])) ?? ""
            for pid in pids.split(whereSeparator: \.isNewline).compactMap({ Int32($0) }) { kill(pid, SIGKILL) }
            LabShell.attempt(["ip", "netns", "del", namespace])
            try? FileManager.default.removeItem(atPath: "/etc/netns/\(namespace)")
        }
    }

    /// Deletes the namespaces of labs whose process is gone (a run that was killed).
    static func removeLeftovers() {
        let listed = (try? LabShell.run(["ip", "netns", "list"])) ?? ""
        let names = listed.split(whereSeparator: \.isNewline).compactMap { $0.split(separator: " ").first.map(String.init) }
        let orphans = names.filter { name in
            guard let match = name.firstMatch(of: /^fgn-(\d+)-/), let pid = Int32(match.1) else { return false }
            return kill(pid, 0) != 0 && errno == ESRCH
        }
        removeNamespaces(orphans)
        let links = (try? LabShell.run(["ip", "-o", "link", "show"])) ?? ""
        for match in links.matches(of: /\d+: (fgn(\d+)x\d+)[@:]/) {
            if let pid = Int32(match.2), kill(pid, 0) != 0 && errno == ESRCH { LabShell.attempt(["ip", "link", "del", String(match.1)]) }
        }
    }
}
