#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import FugitiveWire
import NIOPosix

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

    /// Checks `url` against the allowlist and the addresses its host resolves to.
    /// Throws `origin-not-allowed` with the reason.
    public func check(_ url: String) async throws(WireError) {
        guard let origin = Origin(url) else {
            throw WireError(.originNotAllowed, "'\(url.prefix(80))' is not an http(s) URL with a host")
        }
        guard allowed.contains(origin) else {
            throw WireError(.originNotAllowed, "origin \(origin) is not on the allowlist")
        }
        guard !allowPrivateAddresses else { return }
        let addresses = await Self.resolve(origin.bareHost)
        guard !addresses.isEmpty else {
            throw WireError(.originFailed, "host \(origin.host) does not resolve")
        }
        if let special = addresses.first(where: Self.isSpecial) {
            throw WireError(.originNotAllowed, "host \(origin.host) resolves to a non-public address (\(Self.format(special)))")
        }
    }

    /// Whether an address (4 or 16 bytes) is in a range a public origin never uses.
    static func isSpecial(_ b: [UInt8]) -> Bool {
        if b.count == 4 {
            switch (b[0], b[1]) {
            case (0, _), (10, _), (127, _), (169, 254), (192, 168): return true
            case (100, 64...127), (172, 16...31), (198, 18...19): return true
            case (192, 0) where b[2] == 0 || b[2] == 2: return true
            case (198, 51) where b[2] == 100, (203, 0) where b[2] == 113: return true
            case (224...255, _): return true
            default: return false
            }
        }
        guard b.count == 16 else { return true }
        if b[0..<15].allSatisfy({ $0 == 0 }) { return true }  // :: and ::1
        if b[0..<10].allSatisfy({ $0 == 0 }), b[10] == 0xff, b[11] == 0xff { return isSpecial(Array(b[12...])) }
        if b[0] & 0xfe == 0xfc { return true }  // fc00::/7 unique local
        if b[0] == 0xfe, b[1] & 0xc0 == 0x80 { return true }  // fe80::/10 link-local
        if b[0] == 0xff { return true }  // multicast
        if b[0] == 0x20, b[1] == 0x01, b[2] == 0x0d, b[3] == 0xb8 { return true }  // documentation
        if b[0] == 0, b[1] == 0x64, b[2] == 0xff, b[3] == 0x9b { return true }  // NAT64 can reach anything
        return false
    }

    static func format(_ b: [UInt8]) -> String {
        if b.count == 4 { return b.map(String.init).joined(separator: ".") }
        return stride(from: 0, to: b.count, by: 2).map { String(Int(b[$0]) << 8 | Int(b[$0 + 1]), radix: 16) }.joined(separator: ":")
    }

    /// Every address `host` resolves to; a blocking getaddrinfo on NIO's thread pool.
    static func resolve(_ host: String) async -> [[UInt8]] {
        (try? await NIOThreadPool.singleton.runIfActive {
            var hints = addrinfo()
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
            var result: UnsafeMutablePointer<addrinfo>?
            guard getaddrinfo(host, nil, &hints, &result) == 0, let first = result else { return [] }
            defer { freeaddrinfo(first) }
            var addresses: [[UInt8]] = []
            var cursor: UnsafeMutablePointer<addrinfo>? = first
            while let info = cursor?.pointee {
                if info.ai_family == AF_INET, let sa = info.ai_addr {
                    sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
                        var a = $0.pointee.sin_addr
                        addresses.append(withUnsafeBytes(of: &a) { Array($0) })
                    }
                } else if info.ai_family == AF_INET6, let sa = info.ai_addr {
                    sa.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) {
                        var a = $0.pointee.sin6_addr
                        addresses.append(withUnsafeBytes(of: &a) { Array($0) })
                    }
                }
                cursor = info.ai_next
            }
            return addresses
        }) ?? []
    }
}
