import Testing

@testable import FugitiveRTC

/// Which selected pairs count as local paths, and how large a datagram each carries.
@Suite("Local path")
struct LocalPathTests {
    static func candidate(_ address: String, type: String = "host", transport: String = "udp") throws -> IceCandidate {
        let related = type == "host" ? "" : " raddr 0.0.0.0 rport 0"
        return try IceCandidate(attributeValue: "candidate:1 1 \(transport) 2122260223 \(address) 50000 typ \(type)\(related)")
    }

    @Test func loopbackAndTheSameAddressCarryWholeUDPPayloads() throws {
        #expect(LocalPath.datagramLimit(local: try Self.candidate("127.0.0.1"), remote: try Self.candidate("127.0.0.1")) == 65_507)
        #expect(LocalPath.datagramLimit(local: try Self.candidate("::1"), remote: try Self.candidate("::1")) == 65_507)
        // Two peers on one machine that picked its interface address: the kernel loops back.
        #expect(LocalPath.datagramLimit(local: try Self.candidate("192.0.2.7"), remote: try Self.candidate("192.0.2.7")) == 65_507)
    }

    @Test func reflexiveRelayedAndTCPCandidatesAreNeverLocal() throws {
        let host = try Self.candidate("127.0.0.1")
        #expect(LocalPath.datagramLimit(local: host, remote: try Self.candidate("127.0.0.1", type: "srflx")) == nil)
        #expect(LocalPath.datagramLimit(local: try Self.candidate("127.0.0.1", type: "relay"), remote: host) == nil)
        #expect(LocalPath.datagramLimit(local: try Self.candidate("127.0.0.1", transport: "tcp"), remote: host) == nil)
    }

    @Test func aRoutedPeerIsNotLocal() throws {
        // TEST-NET-3: on no interface of this machine, so reached through a router.
        for local in LocalPath.Interface.all() where !local.address.isIPv6 && !local.address.isLoopback {
            let address = local.address.bytes.map(String.init).joined(separator: ".")
            #expect(LocalPath.datagramLimit(local: try Self.candidate(address), remote: try Self.candidate("203.0.113.9")) == nil)
        }
    }

    /// A neighbour on the local candidate's network: the interface's MTU less the IPv4
    /// and UDP headers (checked on every IPv4 interface with a neighbour to invent).
    @Test func anOnLinkPeerGetsTheInterfacesMTU() throws {
        for local in LocalPath.Interface.all() where !local.address.isIPv6 && !local.address.isLoopback && local.mask.bytes[3] != 255 {
            var neighbour = local.address.bytes
            neighbour[3] ^= 1
            let address = local.address.bytes.map(String.init).joined(separator: ".")
            let limit = LocalPath.datagramLimit(
                local: try Self.candidate(address), remote: try Self.candidate(neighbour.map(String.init).joined(separator: ".")))
            #expect(limit != nil && limit == local.mtu().map { $0 - 28 })
        }
    }
}
