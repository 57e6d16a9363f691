import Crypto
import Foundation
import FugitiveWire

/// TURN credentials minted per peer from a secret shared with the TURN server — the TURN
/// REST API scheme (coturn's `use-auth-secret`/`static-auth-secret`): the username is
/// `EXPIRY:PEER` (Unix seconds), the credential base64(HMAC-SHA1(secret, username)). The
/// TURN server checks the MAC and the expiry itself, so no static password goes to every
/// client and a leaked credential stops working when it expires.
public struct TURNCredentials: Sendable, Equatable {
    /// The secret shared with the TURN server; nil mints nothing.
    public var secret: String?
    /// The `turn:`/`turns:` URLs the minted credentials are for.
    public var urls: [String] = []
    /// How long a minted credential is valid. Peers get fresh ones (`ice-servers`) when half
    /// of it has passed. Default 12 hours.
    public var lifetime: Duration = .seconds(12 * 3600)

    public init(secret: String? = nil, urls: [String] = [], lifetime: Duration = .seconds(12 * 3600)) {
        self.secret = secret
        self.urls = urls
        self.lifetime = lifetime
    }

    /// Whether credentials are minted at all.
    public var isEnabled: Bool { secret != nil && !urls.isEmpty }

    /// The ICE server entry for `peer`, valid from `now` for ``lifetime``.
    public func server(for peer: PeerID, now: Date) -> ICEServer? {
        guard let secret, !urls.isEmpty else { return nil }
        let expiry = Int(now.timeIntervalSince1970) + Int(lifetime.components.seconds)
        let username = "\(expiry):\(peer.rawValue)"
        return ICEServer(urls: urls, username: username, credential: Self.credential(for: username, secret: secret))
    }

    /// base64(HMAC-SHA1(secret, username)).
    public static func credential(for username: String, secret: String) -> String {
        let mac = HMAC<Insecure.SHA1>.authenticationCode(for: Data(username.utf8), using: SymmetricKey(data: Data(secret.utf8)))
        return Data(mac).base64EncodedString()
    }

    /// Why the configuration cannot work, if it cannot.
    func problem() -> String? {
        guard secret != nil || !urls.isEmpty else { return nil }
        if secret?.isEmpty ?? true { return "turnSecret must be set (and not empty) when turnURLs are" }
        if urls.isEmpty { return "turnURLs must name the TURN server the secret is shared with" }
        if let other = urls.first(where: { !ICEServer.isTURN($0) }) { return "turnURLs: \(other) is not a turn: or turns: URL" }
        if lifetime < .seconds(2) { return "turnCredentialLifetime must be at least 2 seconds" }
        return nil
    }
}
