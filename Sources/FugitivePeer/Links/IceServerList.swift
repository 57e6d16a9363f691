import FugitiveRTC
import FugitiveWire

/// One `stun:`, `turn:` or `turns:` URL of a `welcome` (RFC 7064, RFC 7065), parsed.
struct IceServerURL: Sendable, Equatable {
    enum Kind: Sendable, Equatable { case stun, turn }

    let kind: Kind
    let host: String
    let port: UInt16
    /// How TURN is reached: UDP, TCP (`?transport=tcp`) or TLS (`turns:`).
    let transport: IceAgent.TurnServer.Transport

    /// Parses `url`; the reason when it is not a URL this peer can use.
    static func parse(_ url: String) -> Result<IceServerURL, IceServerError> {
        guard let colon = url.firstIndex(of: ":") else { return .failure(IceServerError(url, "not a STUN or TURN URL")) }
        let scheme = url[..<colon].lowercased()
        var rest = url[url.index(after: colon)...]
        var query: Substring = ""
        if let mark = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: mark)...]
            rest = rest[..<mark]
        }
        let kind: Kind
        var transport = IceAgent.TurnServer.Transport.udp
        var port: UInt16
        switch scheme {
        case "stun": (kind, port) = (.stun, 3478)
        case "turn": (kind, port) = (.turn, 3478)
        case "turns": (kind, port, transport) = (.turn, 5349, .tls)
        case "stuns": return .failure(IceServerError(url, "STUN over TLS is not supported; list a stun: URL"))
        default: return .failure(IceServerError(url, "unknown scheme \(scheme)"))
        }
        for parameter in query.split(separator: "&") where parameter.lowercased().hasPrefix("transport=") {
            let value = parameter.dropFirst("transport=".count).lowercased()
            switch (kind, value, transport) {
            case (.turn, "udp", .udp): break
            case (.turn, "tcp", .udp): transport = .tcp
            case (.turn, "tcp", .tls): break
            default: return .failure(IceServerError(url, "transport=\(value) does not go with \(scheme):"))
            }
        }
        var host: Substring
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { return .failure(IceServerError(url, "an IPv6 address without its ]")) }
            host = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            if after.hasPrefix(":") {
                guard let number = UInt16(after.dropFirst()), number != 0 else { return .failure(IceServerError(url, "not a port")) }
                port = number
            }
        } else if let portColon = rest.lastIndex(of: ":") {
            host = rest[..<portColon]
            guard let number = UInt16(rest[rest.index(after: portColon)...]), number != 0 else {
                return .failure(IceServerError(url, "not a port"))
            }
            port = number
        } else {
            host = rest
        }
        guard !host.isEmpty, host.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" || $0 == ":" }) else {
            return .failure(IceServerError(url, "not a host"))
        }
        return .success(IceServerURL(kind: kind, host: String(host), port: port, transport: transport))
    }
}

/// Why an ICE server entry is not used.
struct IceServerError: Error, Sendable, Equatable, CustomStringConvertible {
    let url: String
    let reason: String
    init(_ url: String, _ reason: String) {
        self.url = String(url.prefix(200))
        self.reason = reason
    }
    var description: String { "\(url): \(reason)" }
}

/// A `welcome`'s ICE servers as libnice takes them: host names resolved to addresses (libnice
/// takes addresses only), the first STUN server, every TURN server with credentials and
/// its transport, and why the others are left out.
struct ResolvedIceServers: Sendable {
    var stun: (host: String, port: UInt16)?
    var turn: [IceAgent.TurnServer] = []
    var skipped: [IceServerError] = []

    /// Resolves `servers` with `lookup` (host name → addresses as text; IPv4 first).
    static func resolve(_ servers: [ICEServer], lookup: @Sendable (String) async -> [String]) async -> ResolvedIceServers {
        var resolved = ResolvedIceServers()
        for server in servers {
            for url in server.urls {
                let parsed: IceServerURL
                switch IceServerURL.parse(url) {
                case .success(let value): parsed = value
                case .failure(let error):
                    resolved.skipped.append(error)
                    continue
                }
                if parsed.kind == .stun, resolved.stun != nil { continue }
                if parsed.kind == .turn, server.username == nil || server.credential == nil {
                    resolved.skipped.append(IceServerError(url, "a TURN server needs a username and a credential"))
                    continue
                }
                let address: String
                if let literal = PublicAddress.literal(parsed.host) {
                    address = PublicAddress.format(literal)
                } else if let first = await lookup(parsed.host).first {
                    address = first
                } else {
                    resolved.skipped.append(IceServerError(url, "\(parsed.host) does not resolve"))
                    continue
                }
                switch parsed.kind {
                case .stun: resolved.stun = (address, parsed.port)
                case .turn:
                    resolved.turn.append(
                        IceAgent.TurnServer(
                            host: address, port: parsed.port, username: server.username ?? "", password: server.credential ?? "",
                            transport: parsed.transport))
                }
            }
        }
        return resolved
    }

    /// Addresses of `host` as text, IPv4 first (getaddrinfo, off the cooperative pool).
    static func systemLookup(_ host: String) async -> [String] {
        await PublicAddress.resolve(host).sorted { $0.count < $1.count }.map(PublicAddress.format)
    }
}

extension PeerConnection.Configuration {
    /// Uses what the `welcome`'s ICE servers resolved to.
    mutating func apply(_ servers: ResolvedIceServers) {
        stunServer = servers.stun
        turnServers = servers.turn
    }
}
