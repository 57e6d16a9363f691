import Foundation

/// How large a datagram the selected candidate pair's path carries, when that path is
/// known without probing: both candidates are host candidates and the peer is on this
/// machine (loopback) or on a network attached to the local candidate's interface (no
/// router in between, so the interfaces' MTU is the path's). Anything else (reflexive
/// or relayed candidates, routed paths) is unknown, and WebRTC's 1200 bytes apply.
///
/// usrsctp does no path MTU discovery over DTLS, and browsers never send more than
/// ~1200 bytes, so this is what lets two FugitiveRTC peers on one host or one LAN use
/// fewer, larger datagrams: the cost of a transfer is per datagram far more than per
/// byte.
enum LocalPath {
    /// UDP payload that fits a 64 KiB IPv4 packet (loopback's MTU).
    static let loopbackDatagramLimit = 65_507

    /// The largest UDP payload the path between `local` and `remote` carries, or nil
    /// when it is not known to be local.
    static func datagramLimit(local: IceCandidate, remote: IceCandidate) -> Int? {
        guard local.type == .host, remote.type == .host, local.transport == .udp, remote.transport == .udp,
            let remoteAddress = IPAddress(remote.address), let localAddress = IPAddress(local.address)
        else { return nil }
        if remoteAddress.isLoopback || remoteAddress == localAddress { return loopbackDatagramLimit }
        guard let interface = Interface.all().first(where: { $0.address == localAddress }),
            interface.contains(remoteAddress), let mtu = interface.mtu()
        else { return nil }
        return mtu - (remoteAddress.isIPv6 ? 48 : 28)
    }

    /// An IPv4 or IPv6 address as bytes, for prefix comparisons.
    struct IPAddress: Equatable {
        var bytes: [UInt8]

        init?(_ text: String) {
            var v4 = in_addr()
            var v6 = in6_addr()
            if inet_pton(AF_INET, text, &v4) == 1 {
                bytes = withUnsafeBytes(of: &v4) { Array($0) }
            } else if inet_pton(AF_INET6, text, &v6) == 1 {
                bytes = withUnsafeBytes(of: &v6) { Array($0) }
            } else {
                return nil
            }
        }

        init(bytes: [UInt8]) { self.bytes = bytes }

        var isIPv6: Bool { bytes.count == 16 }
        var isLoopback: Bool { isIPv6 ? bytes == Array(repeating: 0, count: 15) + [1] : bytes[0] == 127 }
    }

    /// A local interface address with its network mask.
    struct Interface {
        var name: String
        var address: IPAddress
        var mask: IPAddress

        func contains(_ other: IPAddress) -> Bool {
            guard other.bytes.count == address.bytes.count else { return false }
            return zip(zip(address.bytes, other.bytes), mask.bytes).allSatisfy { pair, mask in pair.0 & mask == pair.1 & mask }
        }

        /// The interface's MTU, from sysfs (`ioctl(SIOCGIFMTU)` is variadic in C).
        func mtu() -> Int? {
            guard let text = try? String(contentsOfFile: "/sys/class/net/\(name)/mtu", encoding: .utf8) else { return nil }
            return Int(text.trimmingCharacters(in: .whitespacesAndNewlines))
        }

        static func all() -> [Interface] {
            var list: UnsafeMutablePointer<ifaddrs>?
            guard getifaddrs(&list) == 0, let first = list else { return [] }
            defer { freeifaddrs(list) }
            var result: [Interface] = []
            for entry in sequence(first: first, next: { $0.pointee.ifa_next }) {
                guard let address = entry.pointee.ifa_addr, let mask = entry.pointee.ifa_netmask,
                    let parsed = bytes(of: address), let parsedMask = bytes(of: mask)
                else { continue }
                result.append(Interface(name: String(cString: entry.pointee.ifa_name), address: parsed, mask: parsedMask))
            }
            return result
        }

        private static func bytes(of address: UnsafeMutablePointer<sockaddr>) -> IPAddress? {
            switch Int32(address.pointee.sa_family) {
            case AF_INET:
                return address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { pointer in
                    var value = pointer.pointee.sin_addr
                    return IPAddress(bytes: withUnsafeBytes(of: &value) { Array($0) })
                }
            case AF_INET6:
                return address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { pointer in
                    var value = pointer.pointee.sin6_addr
                    return IPAddress(bytes: withUnsafeBytes(of: &value) { Array($0) })
                }
            default:
                return nil
            }
        }
    }
}
