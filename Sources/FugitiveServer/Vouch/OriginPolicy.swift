import Foundation
import FugitiveWire

/// Decides whether the server may fetch a URL to vouch for its digest: only from an
/// allowlisted origin, and — unless explicitly allowed — never from an address inside
/// private, loopback, link-local or otherwise special ranges. This keeps the server from
/// being an open proxy or a probe into its own network (SSRF).
public struct OriginPolicy: Sendable {
    /// `scheme://host:port` (see ``WebOrigin``).
    public typealias Origin = WebOrigin

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
