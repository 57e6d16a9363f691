/// One ICE candidate as written in a `candidate` attribute (RFC 8839 §5.1).
///
/// ```
/// candidate:1467250027 1 udp 2122260223 3f1c…c9.local 56143 typ host generation 0 network-id 1
/// ```
///
/// Attributes after `typ` other than `raddr`, `rport` and `tcptype` are kept, in
/// order, in ``extensions`` so that a candidate forwarded to another peer reads the
/// same as it was received. On output the three known ones come first, which is the
/// order of the grammar and of every known implementation.
public struct IceCandidate: Sendable, Hashable, CustomStringConvertible {
    /// The kind of address a candidate carries (RFC 8445 §5.1.1).
    public enum CandidateType: String, Sendable, Hashable, CaseIterable {
        /// An address of a local interface.
        case host
        /// A server-reflexive address learned from a STUN server.
        case srflx
        /// A peer-reflexive address learned from a connectivity check.
        case prflx
        /// An address allocated on a TURN server.
        case relay
    }

    /// The transport protocol of a candidate.
    public enum Transport: String, Sendable, Hashable, CaseIterable {
        /// UDP (RFC 8445).
        case udp
        /// TCP with RFC 4571 framing (RFC 6544).
        case tcp
    }

    /// The connection setup direction of a TCP candidate (RFC 6544 §4.5).
    public enum TCPType: String, Sendable, Hashable, CaseIterable {
        /// Opens outgoing connections only; its port is a placeholder (usually 9).
        case active
        /// Accepts incoming connections only.
        case passive
        /// Simultaneous open.
        case so
    }

    /// An attribute after `typ` that this model does not interpret, such as
    /// Chromium's `generation`, `ufrag`, `network-id` and `network-cost`.
    public struct Extension: Sendable, Hashable {
        /// The attribute name, e.g. `network-id`.
        public var name: String
        /// The attribute value, e.g. `1`.
        public var value: String

        /// Creates an extension attribute.
        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    /// Groups candidates that share a base and server; 1 to 32 `ice-char`s.
    public var foundation: String
    /// The component ID; always 1 for WebRTC, which multiplexes everything on one component.
    public var component: Int
    /// The transport protocol. Parsed case-insensitively (Firefox writes `UDP`), written lowercase.
    public var transport: Transport
    /// The candidate priority (RFC 8445 §5.1.2).
    public var priority: UInt32
    /// An IP address, or an mDNS host name ending in `.local` that hides a host address.
    public var address: String
    /// The port.
    public var port: UInt16
    /// The candidate type.
    public var type: CandidateType
    /// The base address of a reflexive or relayed candidate (`raddr`).
    public var relatedAddress: String?
    /// The base port of a reflexive or relayed candidate (`rport`).
    public var relatedPort: UInt16?
    /// The TCP connection direction (`tcptype`), for TCP candidates.
    public var tcpType: TCPType?
    /// Uninterpreted attributes, in the order they appeared.
    public var extensions: [Extension]

    /// Creates a candidate from its parts.
    public init(
        foundation: String,
        component: Int = 1,
        transport: Transport = .udp,
        priority: UInt32,
        address: String,
        port: UInt16,
        type: CandidateType,
        relatedAddress: String? = nil,
        relatedPort: UInt16? = nil,
        tcpType: TCPType? = nil,
        extensions: [Extension] = []
    ) {
        self.foundation = foundation
        self.component = component
        self.transport = transport
        self.priority = priority
        self.address = address
        self.port = port
        self.type = type
        self.relatedAddress = relatedAddress
        self.relatedPort = relatedPort
        self.tcpType = tcpType
        self.extensions = extensions
    }

    /// Parses a candidate attribute, with or without the `a=` prefix:
    /// `candidate:…` or `a=candidate:…`. Surrounding whitespace and line breaks are ignored.
    ///
    /// - Throws: ``SDPError`` with code ``SDPError/Code/malformedCandidate`` when the
    ///   syntax is wrong, or ``SDPError/Code/unsupportedCandidate`` for a transport
    ///   other than UDP/TCP or an unknown candidate type.
    public init(sdpAttribute: String) throws(SDPError) {
        var text = SDPSyntax.trimmingWhitespace(Substring(sdpAttribute))
        if text.hasPrefix("a=") { text = text.dropFirst(2) }
        guard text.hasPrefix("candidate:") else {
            throw SDPError(.malformedCandidate, message: "expected 'candidate:', got '\(text.prefix(32))'")
        }
        try self.init(attributeValue: text.dropFirst("candidate:".count))
    }

    /// Parses what follows `candidate:`.
    init(attributeValue: Substring) throws(SDPError) {
        let fields = SDPSyntax.fields(attributeValue)
        func malformed(_ reason: String) -> SDPError {
            SDPError(.malformedCandidate, message: "\(reason) in candidate '\(attributeValue)'")
        }
        guard fields.count >= 8 else { throw malformed("expected at least 8 fields") }
        guard fields[6] == "typ" else { throw malformed("expected 'typ' as the 7th field") }
        guard let component = SDPSyntax.decimal(fields[1], as: Int.self), (1...256).contains(component) else {
            throw malformed("component '\(fields[1])' is not 1 to 256")
        }
        guard let priority = SDPSyntax.decimal(fields[3], as: UInt32.self) else {
            throw malformed("priority '\(fields[3])' is not a 32-bit number")
        }
        guard let port = SDPSyntax.decimal(fields[5], as: UInt16.self) else {
            throw malformed("port '\(fields[5])' is not a number from 0 to 65535")
        }
        guard (fields.count - 8) % 2 == 0 else {
            throw malformed("attribute '\(fields[fields.count - 1])' has no value")
        }
        // Checked after the syntax so that a broken line is reported as broken, not as
        // merely unsupported (whole-description parsing skips unsupported candidates).
        guard let transport = Transport(rawValue: fields[2].lowercased()) else {
            throw SDPError(.unsupportedCandidate, message: "transport '\(fields[2])' is not udp or tcp")
        }
        guard let type = CandidateType(rawValue: String(fields[7])) else {
            throw SDPError(.unsupportedCandidate, message: "candidate type '\(fields[7])' is not supported")
        }

        self.init(
            foundation: String(fields[0]),
            component: component,
            transport: transport,
            priority: priority,
            address: String(fields[4]),
            port: port,
            type: type
        )

        var index = 8
        while index < fields.count {
            let name = fields[index]
            let value = fields[index + 1]
            index += 2
            switch name {
            case "raddr":
                relatedAddress = String(value)
            case "rport":
                guard let relatedPort = SDPSyntax.decimal(value, as: UInt16.self) else {
                    throw malformed("rport '\(value)' is not a port number")
                }
                self.relatedPort = relatedPort
            case "tcptype":
                guard let tcpType = TCPType(rawValue: String(value)) else {
                    throw malformed("tcptype '\(value)' is not active, passive or so")
                }
                self.tcpType = tcpType
            default:
                extensions.append(Extension(name: String(name), value: String(value)))
            }
        }
    }

    /// The attribute text without the `a=` prefix: `candidate:<foundation> <component> …`.
    ///
    /// This is also the form of `RTCIceCandidate.candidate` in the browser API.
    public var sdpAttribute: String {
        var text = "candidate:\(foundation) \(component) \(transport.rawValue) \(priority) \(address) \(port) typ \(type.rawValue)"
        if let relatedAddress { text += " raddr \(relatedAddress)" }
        if let relatedPort { text += " rport \(relatedPort)" }
        if let tcpType { text += " tcptype \(tcpType.rawValue)" }
        for item in extensions { text += " \(item.name) \(item.value)" }
        return text
    }

    /// The same as ``sdpAttribute``.
    public var description: String { sdpAttribute }

    /// Whether ``address`` is an mDNS name (RFC 8839 §5.1 / draft-ietf-mmusic-mdns-ice-candidates)
    /// that must be resolved before use, as Chromium sends for host candidates.
    public var isMDNSHostname: Bool {
        address.lowercased().hasSuffix(".local")
    }

    /// The value of the first extension attribute called `name`, e.g. `"ufrag"`.
    public func extensionValue(named name: String) -> String? {
        extensions.first { $0.name == name }?.value
    }
}
