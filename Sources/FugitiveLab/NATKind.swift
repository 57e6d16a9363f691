/// How a lab home reaches the public segment: the NAT (and firewall) its router runs, in
/// RFC 4787's terms. ``InternetLab/verifyNATs()`` checks each home behaves as its kind says
/// before a test trusts it.
public enum NATKind: String, Sendable, CaseIterable, CustomStringConvertible {
    /// No router: a host with a public address of its own.
    case none = "public"
    /// Endpoint-independent mapping and filtering ("full cone"): once a host has sent from
    /// a port, anyone may send to its mapping.
    case fullCone = "full-cone"
    /// Endpoint-independent mapping, address-and-port-dependent filtering ("port-restricted
    /// cone"): Linux's `masquerade`, what most home routers do.
    case portRestricted = "port-restricted"
    /// Address-and-port-dependent mapping and filtering ("symmetric"): a new public port
    /// for every destination (`masquerade random-fully`), as carrier-grade NATs do.
    case symmetric = "symmetric"

    public var description: String { rawValue }

    /// The mapping behaviour the lab must measure for this kind.
    public var expectedMapping: NATBehaviour.Kind {
        switch self {
        case .none: .none
        case .fullCone, .portRestricted: .endpointIndependent
        case .symmetric: .addressAndPortDependent
        }
    }

    /// The filtering behaviour the lab must measure for this kind.
    public var expectedFiltering: NATBehaviour.Kind {
        switch self {
        case .none: .none
        case .fullCone: .endpointIndependent
        case .portRestricted, .symmetric: .addressAndPortDependent
        }
    }

    /// Whether two peers behind these kinds need a relay: ICE connects directly unless one
    /// side's mapping changes per destination and the other side filters by port (or
    /// both are symmetric).
    public static func needsRelay(_ a: NATKind, _ b: NATKind) -> Bool {
        func dependent(_ kind: NATKind) -> Bool { kind.expectedMapping == .addressAndPortDependent }
        func filtersByPort(_ kind: NATKind) -> Bool { kind.expectedFiltering == .addressAndPortDependent }
        return (dependent(a) && filtersByPort(b)) || (dependent(b) && filtersByPort(a))
    }
}

/// What the lab's probe measured behind one router (RFC 4787 mapping and filtering).
public struct NATBehaviour: Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable, Equatable {
        case none
        case endpointIndependent = "endpoint-independent"
        case addressDependent = "address-dependent"
        case addressAndPortDependent = "address-and-port-dependent"
    }

    public var mapping: Kind
    public var filtering: Kind

    public var description: String { "mapping \(mapping.rawValue), filtering \(filtering.rawValue)" }
}

/// The firewall and NAT of a home's router as an nftables ruleset: drop by default, as
/// real routers do — inbound only what belongs to a flow the home started (and, for a full
/// cone, anything to a mapped port).
enum RouterRules {
    /// `portRange` confines the public ports mappings take (`20000-29999`): a router that
    /// moves to another range and forgets its mappings rebinds every flow.
    static func ruleset(kind: NATKind, host: String, blocksUDP: Bool, portRange: String? = nil) -> String {
        let flags = kind == .symmetric ? " random,fully-random" : ""
        // nftables maps ports only after a transport match: TCP and UDP get the range,
        // anything else (ICMP) the plain rule after it.
        let ranged = portRange.map { "oifname \"wan\" meta l4proto { tcp, udp } masquerade to :\($0)\(flags)\n            " } ?? ""
        let masquerade = ranged + "oifname \"wan\" masquerade\(flags)"
        // A full cone forwards what arrives at any public port to the one host behind it;
        // outbound ports are kept (masquerade keeps the source port when it is free), so
        // the mapping is the host's own port.
        let fullCone =
            kind == .fullCone
            ? """
                chain prerouting {
                    type nat hook prerouting priority dstnat; policy accept;
                    iifname "wan" meta l4proto udp dnat ip to \(host)
                }
            """ : ""
        let inboundMapped = kind == .fullCone ? "iifname \"wan\" oifname \"lan\" ct status dnat accept" : ""
        // A home that lets no UDP out except DNS (hotel and corporate networks): ICE must
        // go through TURN over TCP or TLS.
        let udpBlock = blocksUDP ? "iifname \"lan\" meta l4proto udp udp dport != 53 drop" : ""
        return """
            flush ruleset
            table ip nat {
                chain postrouting {
                    type nat hook postrouting priority srcnat; policy accept;
                    \(masquerade)
                }
            \(fullCone)
            }
            table inet filter {
                chain input {
                    type filter hook input priority filter; policy drop;
                    iifname "lo" accept
                    ct state established,related accept
                    iifname "lan" accept
                }
                chain forward {
                    type filter hook forward priority filter; policy drop;
                    ct state invalid drop
                    \(udpBlock)
                    ct state established,related accept
                    iifname "lan" oifname "lan" accept
                    \(inboundMapped)
                    iifname "lan" oifname "wan" accept
                }
            }

            """
    }
}
