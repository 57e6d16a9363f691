import Foundation
import FugitiveWire

/// Where an origin fetch may go, checked for the URL and again for every redirect hop,
/// after the host name is resolved. ``any`` is the library's default (a native peer may
/// fetch from its own network); a gateway, which fetches on behalf of whatever asks it,
/// uses ``publicOnly(allowedOrigins:)`` so that a web page cannot make it read the user's
/// internal network.
public struct DestinationPolicy: Sendable, Hashable {
    /// Whether hosts may resolve to private, loopback, link-local or other non-public
    /// addresses (``PublicAddress``).
    public var allowPrivateAddresses: Bool
    /// `scheme://host[:port]` origins allowed; empty allows any.
    public var allowedOrigins: [String]
    /// Redirects followed at most (each hop is checked like the first URL).
    public var maxRedirects: Int
    /// Whether what came from a non-public address may be announced to the swarm. A peer
    /// that its operator points at an intranet shares within its swarm; a gateway, which
    /// fetches for whoever asks, never does.
    public var announcesPrivateDestinations: Bool

    public init(allowPrivateAddresses: Bool, allowedOrigins: [String] = [], maxRedirects: Int = 5, announcesPrivateDestinations: Bool = false) {
        self.allowPrivateAddresses = allowPrivateAddresses
        self.allowedOrigins = allowedOrigins
        self.maxRedirects = maxRedirects
        self.announcesPrivateDestinations = announcesPrivateDestinations
    }

    /// Any destination, announced whatever its address (the library's default).
    public static let any = DestinationPolicy(allowPrivateAddresses: true, announcesPrivateDestinations: true)

    /// Public addresses only, within `allowedOrigins` when it is not empty.
    public static func publicOnly(allowedOrigins: [String] = []) -> DestinationPolicy {
        DestinationPolicy(allowPrivateAddresses: false, allowedOrigins: allowedOrigins)
    }

    /// Where one hop goes: the URL to request (plain HTTP pinned to the checked address,
    /// with the original `Host`), and whether the destination is public.
    struct Target: Sendable {
        var url: String
        var hostHeader: String?
        var isPublic: Bool
    }

    /// Checks `url` and resolves its host; throws `destination-refused` with the reason.
    func check(_ url: String) async throws(FetchError) -> Target {
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(), ["http", "https"].contains(scheme),
            let host = components.host?.lowercased(), !host.isEmpty, components.user == nil
        else { throw FetchError(.invalidURL, "\(url.prefix(200)) is not an absolute http(s) URL") }
        if !allowedOrigins.isEmpty {
            let origin = Self.origin(of: url)
            guard let origin, allowedOrigins.contains(origin) else {
                throw FetchError(.destinationRefused, "\(origin ?? url) is not an allowed origin")
            }
        }
        let bare = host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host
        let addresses: [[UInt8]]
        if let literal = PublicAddress.literal(bare) { addresses = [literal] } else { addresses = await PublicAddress.resolve(bare) }
        guard let first = addresses.first else {
            // Unresolvable here: the HTTP client reports it as unreachable.
            return Target(url: url, hostHeader: nil, isPublic: false)
        }
        let isPublic = !addresses.contains(where: PublicAddress.isNonPublic)
        guard isPublic || allowPrivateAddresses else {
            let special = addresses.first(where: PublicAddress.isNonPublic)!
            throw FetchError(.destinationRefused, "\(host) resolves to a non-public address (\(PublicAddress.format(special)))")
        }
        // Plain HTTP connects to the address just checked, not to a second resolution's.
        guard let pinned = PublicAddress.pinned(url, to: first) else { return Target(url: url, hostHeader: nil, isPublic: isPublic) }
        return Target(url: pinned.url, hostHeader: pinned.host, isPublic: isPublic)
    }

    /// `scheme://host[:port]` (lowercased) of an absolute http(s) URL without user info.
    static func origin(of url: String) -> String? {
        let lower = url.lowercased()
        guard let scheme = ["http", "https"].first(where: { lower.hasPrefix($0 + "://") }) else { return nil }
        let authority = url.dropFirst(scheme.count + 3).prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        guard !authority.isEmpty, !authority.contains("@") else { return nil }
        return "\(scheme)://\(authority.lowercased())"
    }
}
