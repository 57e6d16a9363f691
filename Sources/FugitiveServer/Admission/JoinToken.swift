import Crypto
import Foundation
import FugitiveWire

/// A join token: a JWT (RFC 7519) signed with HMAC-SHA256 by the site's backend with a key
/// it shares with the orchestrator, naming the swarm it admits to (`swarm`) and when it
/// expires (`exp`, seconds since 1970; `nbf` optional). Only `HS256` is accepted — never
/// `none`, never a key chosen by the token.
public enum JoinToken {
    /// What a token's payload must carry.
    struct Claims: Decodable {
        let swarm: String
        let exp: Double
        let nbf: Double?
    }

    struct Header: Decodable {
        let alg: String
    }

    /// Checks `token` for `swarm` at `now` with `key`; throws `not-admitted` with the reason.
    public static func verify(_ token: String, swarm: String, key: [UInt8], now: Date = Date(), leeway: TimeInterval = 30) throws(WireError) {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let headerBytes = base64URLDecode(parts[0]), let payloadBytes = base64URLDecode(parts[1]),
            let signature = base64URLDecode(parts[2])
        else { throw WireError(.notAdmitted, "the join token is not a JWT") }
        guard let header = try? JSONDecoder().decode(Header.self, from: Data(headerBytes)), header.alg == "HS256" else {
            throw WireError(.notAdmitted, "the join token must be signed with HS256")
        }
        let signed = Data(parts[0].utf8) + Data(".".utf8) + Data(parts[1].utf8)
        guard HMAC<SHA256>.isValidAuthenticationCode(signature, authenticating: signed, using: SymmetricKey(data: key)) else {
            throw WireError(.notAdmitted, "the join token's signature is not valid")
        }
        guard let claims = try? JSONDecoder().decode(Claims.self, from: Data(payloadBytes)) else {
            throw WireError(.notAdmitted, "the join token needs the claims swarm and exp")
        }
        let seconds = now.timeIntervalSince1970
        guard claims.exp + leeway > seconds else { throw WireError(.notAdmitted, "the join token has expired") }
        if let nbf = claims.nbf, nbf - leeway > seconds { throw WireError(.notAdmitted, "the join token is not valid yet") }
        guard claims.swarm == swarm else { throw WireError(.notAdmitted, "the join token is for another swarm") }
    }

    /// A token for `swarm` valid until `expires`, signed with `key` — what a site's backend
    /// issues (any JWT library does the same); here for tests and Swift backends.
    public static func sign(swarm: String, expires: Date, key: [UInt8]) -> String {
        let header = base64URLEncode(Array(#"{"alg":"HS256","typ":"JWT"}"#.utf8))
        let swarmJSON = String(decoding: (try? JSONEncoder().encode(swarm)) ?? Data(), as: UTF8.self)
        let payload = base64URLEncode(Array(#"{"swarm":\#(swarmJSON),"exp":\#(Int(expires.timeIntervalSince1970))}"#.utf8))
        let mac = HMAC<SHA256>.authenticationCode(for: Data("\(header).\(payload)".utf8), using: SymmetricKey(data: key))
        return "\(header).\(payload).\(base64URLEncode(Array(mac)))"
    }

    static func base64URLDecode(_ text: Substring) -> [UInt8]? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        return Data(base64Encoded: base64).map(Array.init)
    }

    static func base64URLEncode(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
