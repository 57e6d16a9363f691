import Foundation
import FugitiveWire

/// Who may join a swarm. Per swarm (or the default for swarms not listed):
/// - `allowedPageOrigins`: a browser peer's page (the WebSocket upgrade's `Origin`) must
///   be one of them; clients that send no `Origin` (native peers) are not affected — the
///   header says which *site* a browser is on, it proves nothing about anyone else;
/// - `tokenKey`: every peer must present a join token (``JoinToken``) for this swarm,
///   signed with this key by the site's backend and not expired.
/// Neither set: the swarm is open (the demo). A refused join is answered `not-admitted`
/// and closed; it gets no id, no ICE servers (TURN credentials) and no operator data.
public struct SwarmAdmission: Sendable, Codable, Equatable {
    /// Page origins (`https://shop.example`) browser peers may come from; empty allows any.
    public var allowedPageOrigins: [String] = []
    /// The HS256 key join tokens are signed with (as text; UTF-8 bytes). `nil`: no token needed.
    public var tokenKey: String?

    public init(allowedPageOrigins: [String] = [], tokenKey: String? = nil) {
        self.allowedPageOrigins = allowedPageOrigins
        self.tokenKey = tokenKey
    }

    enum CodingKeys: String, CodingKey { case allowedPageOrigins, tokenKey }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        allowedPageOrigins = try c.decodeIfPresent([String].self, forKey: .allowedPageOrigins) ?? []
        tokenKey = try c.decodeIfPresent(String.self, forKey: .tokenKey)
    }

    /// Whether an `Origin` header names a web page: `http(s)://…`, or `null` (an opaque
    /// origin: a sandboxed frame, a file). WebSocket client libraries send their own
    /// `ws://` URL; that is no page.
    static func isPageOrigin(_ origin: String) -> Bool {
        let lower = origin.lowercased()
        return lower == "null" || lower.hasPrefix("http://") || lower.hasPrefix("https://")
    }

    /// The page origin among an upgrade's `Origin` values (a page one wins over another).
    static func pageOrigin(in values: [String]) -> String? { values.first(where: isPageOrigin) ?? values.first }

    /// Checks a `hello` that came over a connection whose upgrade carried `pageOrigin`.
    public func admit(_ hello: Hello, pageOrigin: String?, now: Date = Date()) throws(WireError) {
        if let pageOrigin, !allowedPageOrigins.isEmpty, Self.isPageOrigin(pageOrigin),
            !allowedPageOrigins.contains(where: { WebOrigin($0) == WebOrigin(pageOrigin) && WebOrigin($0) != nil })
        {
            throw WireError(.notAdmitted, "pages of \(pageOrigin.prefix(100)) may not join swarm \(hello.swarm.prefix(100))")
        }
        guard let tokenKey else { return }
        guard let token = hello.joinToken else { throw WireError(.notAdmitted, "swarm \(hello.swarm.prefix(100)) needs a join token") }
        try JoinToken.verify(token, swarm: hello.swarm, key: Array(tokenKey.utf8), now: now)
    }
}

/// Admission for every swarm: an entry per swarm name, else the default.
public struct AdmissionConfiguration: Sendable, Codable, Equatable {
    /// For swarms without an entry of their own. Open by default.
    public var `default` = SwarmAdmission()
    /// By swarm name.
    public var swarms: [String: SwarmAdmission] = [:]

    public init(default: SwarmAdmission = SwarmAdmission(), swarms: [String: SwarmAdmission] = [:]) {
        self.default = `default`
        self.swarms = swarms
    }

    enum CodingKeys: String, CodingKey { case `default`, swarms }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.default = try c.decodeIfPresent(SwarmAdmission.self, forKey: .default) ?? SwarmAdmission()
        swarms = try c.decodeIfPresent([String: SwarmAdmission].self, forKey: .swarms) ?? [:]
    }

    /// The rule for `swarm`.
    public func rule(for swarm: String) -> SwarmAdmission { swarms[swarm] ?? self.default }

    func validate() throws(ConfigurationError) {
        for (name, rule) in [("default", self.default)] + swarms.sorted(by: { $0.key < $1.key }) {
            if let key = rule.tokenKey, key.utf8.count < 32 {
                throw ConfigurationError("admission \(name): tokenKey must be at least 32 bytes")
            }
            for origin in rule.allowedPageOrigins where WebOrigin(origin) == nil {
                throw ConfigurationError("admission \(name): '\(origin)' is not scheme://host[:port]")
            }
        }
    }
}
