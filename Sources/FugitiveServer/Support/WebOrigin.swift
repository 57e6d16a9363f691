import Foundation

/// `scheme://host:port`, normalised (lower-case scheme and host, default port filled in).
public struct WebOrigin: Hashable, Sendable, CustomStringConvertible {
    public let scheme: String
    public let host: String
    public let port: Int

    /// Parses an origin or a full URL (path and query are ignored); `nil` unless the
    /// scheme is http or https and there is a host.
    public init?(_ text: String) {
        guard let schemeEnd = text.range(of: "://") else { return nil }
        let scheme = text[..<schemeEnd.lowerBound].lowercased()
        guard scheme == "http" || scheme == "https" else { return nil }
        let rest = text[schemeEnd.upperBound...]
        var authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        // Credentials in a URL would let a request smuggle a different host past a naive check.
        guard !authority.contains("@"), !authority.isEmpty else { return nil }
        var port = scheme == "https" ? 443 : 80
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return nil }
            let after = authority[authority.index(after: close)...]
            if after.hasPrefix(":") {
                guard let p = Int(after.dropFirst()), (1...65_535).contains(p) else { return nil }
                port = p
            } else if !after.isEmpty {
                return nil
            }
            authority = authority[...close]
        } else if let colon = authority.lastIndex(of: ":") {
            guard let p = Int(authority[authority.index(after: colon)...]), (1...65_535).contains(p) else { return nil }
            port = p
            authority = authority[..<colon]
        }
        guard !authority.isEmpty else { return nil }
        self.scheme = scheme
        self.host = authority.lowercased()
        self.port = port
    }

    public var description: String { "\(scheme)://\(host):\(port)" }

    /// The host as a resolver wants it (IPv6 literals without brackets).
    var bareHost: String {
        host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host
    }
}
