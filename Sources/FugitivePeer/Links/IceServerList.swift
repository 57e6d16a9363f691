import FugitiveRTC
import FugitiveWire

extension PeerConnection.Configuration {
    /// Applies the ICE servers a `welcome` named: the first `stun:` URL with an IP
    /// address and every `turn:` URL (UDP) with credentials. Names are skipped, since
    /// libnice does not resolve them; a server operator lists addresses.
    mutating func apply(_ servers: [ICEServer]) {
        stunServer = nil
        turnServers = []
        for server in servers {
            for url in server.urls {
                guard let (scheme, host, port) = Self.parse(url) else { continue }
                switch scheme {
                case "stun" where stunServer == nil:
                    stunServer = (host, port)
                case "turn":
                    guard let username = server.username, let credential = server.credential else { continue }
                    turnServers.append(IceAgent.TurnServer(host: host, port: port, username: username, password: credential))
                default:
                    continue
                }
            }
        }
    }

    /// `stun:1.2.3.4:3478`, `turn:[::1]:3478?transport=udp` → scheme, IP, port.
    static func parse(_ url: String) -> (String, String, UInt16)? {
        guard let colon = url.firstIndex(of: ":") else { return nil }
        let scheme = url[..<colon].lowercased()
        var rest = url[url.index(after: colon)...]
        if let query = rest.firstIndex(of: "?") {
            guard !rest[query...].contains("transport=tcp") else { return nil }
            rest = rest[..<query]
        }
        var host: Substring
        var port: UInt16 = 3478
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { return nil }
            host = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            if after.hasPrefix(":") { port = UInt16(after.dropFirst()) ?? 0 }
        } else if let portColon = rest.lastIndex(of: ":") {
            host = rest[..<portColon]
            port = UInt16(rest[rest.index(after: portColon)...]) ?? 0
        } else {
            host = rest
        }
        guard port != 0, !host.isEmpty, host.allSatisfy({ $0.isHexDigit || $0 == "." || $0 == ":" }) else { return nil }
        return (scheme, String(host), port)
    }
}
