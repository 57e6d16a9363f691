#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
import NIOPosix

/// Which addresses are public, shared by everything that fetches a URL on someone else's
/// behalf (the server's vouching, a peer's gateway): an address inside a private,
/// loopback, link-local, CGNAT, multicast, documentation or NAT64 range is never one, so
/// that a request cannot be aimed at the fetcher's own network.
public enum PublicAddress {
    /// Whether an address (4 or 16 bytes) is in a range a public origin never uses.
    public static func isNonPublic(_ b: [UInt8]) -> Bool {
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
        if b[0..<10].allSatisfy({ $0 == 0 }), b[10] == 0xff, b[11] == 0xff { return isNonPublic(Array(b[12...])) }
        if b[0] & 0xfe == 0xfc { return true }  // fc00::/7 unique local
        if b[0] == 0xfe, b[1] & 0xc0 == 0x80 { return true }  // fe80::/10 link-local
        if b[0] == 0xff { return true }  // multicast
        if b[0] == 0x20, b[1] == 0x01, b[2] == 0x0d, b[3] == 0xb8 { return true }  // documentation
        if b[0] == 0, b[1] == 0x64, b[2] == 0xff, b[3] == 0x9b { return true }  // NAT64 can reach anything
        return false
    }

    /// The address as text (dotted IPv4, or IPv6 as eight hex groups).
    public static func format(_ b: [UInt8]) -> String {
        if b.count == 4 { return b.map(String.init).joined(separator: ".") }
        return stride(from: 0, to: b.count, by: 2).map { String(Int(b[$0]) << 8 | Int(b[$0 + 1]), radix: 16) }.joined(separator: ":")
    }

    /// Every address `host` resolves to; a blocking getaddrinfo on NIO's thread pool.
    public static func resolve(_ host: String) async -> [[UInt8]] {
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

    /// The address an IP literal names, in any spelling `inet_aton` accepts (`127.1`,
    /// `2130706433`, `0x7f.0.0.1`) or IPv6 (with or without brackets); `nil` for a name.
    public static func literal(_ host: String) -> [UInt8]? {
        var text = host
        if text.hasPrefix("["), text.hasSuffix("]") { text = String(text.dropFirst().dropLast()) }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        var v4 = in_addr()
        if inet_aton(text, &v4) != 0 { return withUnsafeBytes(of: &v4) { Array($0) } }
        return nil
    }

    /// A plain-HTTP `url` with its host replaced by `address` (one a policy checked), and
    /// the `Host` header naming the original host, so that the connection goes where the
    /// check looked and not wherever a second resolution (DNS rebinding) points. `nil` for
    /// anything but `http://` (HTTPS keeps its name: the certificate must match it) or a
    /// URL with credentials.
    public static func pinned(_ url: String, to address: [UInt8]) -> (url: String, host: String)? {
        guard url.prefix(7).lowercased() == "http://" else { return nil }
        let afterScheme = url.dropFirst(7)
        let authority = afterScheme.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        guard !authority.isEmpty, !authority.contains("@") else { return nil }
        var rest = afterScheme.dropFirst(authority.count)
        if let fragment = rest.firstIndex(of: "#") { rest = rest[..<fragment] }
        let port: Substring
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return nil }
            port = authority[authority.index(after: close)...]
        } else {
            port = authority.firstIndex(of: ":").map { authority[$0...] } ?? ""
        }
        guard port.isEmpty || (port.first == ":" && port.dropFirst().allSatisfy(\.isNumber)) else { return nil }
        let literal = address.count == 16 ? "[\(format(address))]" : format(address)
        let path = rest.isEmpty || rest.first == "?" ? "/" + rest : rest
        return ("http://\(literal)\(port)\(path)", authority.lowercased())
    }
}
