import Foundation
import FugitiveWire

/// Decides whether the server may fetch a URL to vouch for its digest: only from an
/// allowlisted origin, and — unless explicitly allowed — never from an address inside
/// private, loopback, link-local or otherwise special ranges. This keeps the server from
/// being an open proxy or a probe into its own network (SSRF).
public struct OriginPolicy: Sendable {
    /// `scheme://host:port`, normalised (lower-case scheme and host, default port filled in).
    public struct Origin: Hashable, Sendable, CustomStringConvertible {
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

    public let allowed: Set<Origin>
    public let allowPrivateAddresses: Bool

    public init(_ configuration: VouchConfiguration) {
        allowed = Set(configuration.allowedOrigins.compactMap(Origin.init))
        allowPrivateAddresses = configuration.allowPrivateAddresses
    }

    /// Checks `url` against the allowlist and the addresses its host resolves to; returns
    /// those addresses (none when private addresses are allowed and nothing was resolved).
    /// Throws `origin-not-allowed` with the reason.
    @discardableResult
    public func check(_ url: String) async throws(WireError) -> [[UInt8]] {
        guard let origin = Origin(url) else {
            throw WireError(.originNotAllowed, "'\(url.prefix(80))' is not an http(s) URL with a host")
        }
        guard allowed.contains(origin) else {
            throw WireError(.originNotAllowed, "origin \(origin) is not on the allowlist")
        }
        guard !allowPrivateAddresses else { return [] }
        let addresses = await PublicAddress.resolve(origin.bareHost)
        guard !addresses.isEmpty else {
            throw WireError(.originFailed, "host \(origin.host) does not resolve")
        }
        if let special = addresses.first(where: PublicAddress.isNonPublic) {
            throw WireError(.originNotAllowed, "host \(origin.host) resolves to a non-public address (\(PublicAddress.format(special)))")
        }
        return addresses
    }

}
