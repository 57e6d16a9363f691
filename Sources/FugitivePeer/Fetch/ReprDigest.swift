import Foundation
import FugitiveWire

/// RFC 9530 `Repr-Digest` (and `Content-Digest`): a structured-field dictionary of
/// algorithm → byte sequence, e.g. `sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:`.
public enum ReprDigest {
    /// The SHA-256 member of a header value, if present and well formed.
    public static func sha256(fromHeader value: String) -> ResourceDigest? {
        for member in value.split(separator: ",") {
            let parts = member.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, parts[0].trimmingCharacters(in: .whitespaces).lowercased() == "sha-256" else { continue }
            let item = parts[1].trimmingCharacters(in: .whitespaces)
            // A byte sequence is base64 between colons; parameters (`;…`) may follow.
            guard item.hasPrefix(":"), let end = item.dropFirst().firstIndex(of: ":") else { return nil }
            guard let data = Data(base64Encoded: String(item[item.index(after: item.startIndex)..<end])) else { return nil }
            return ResourceDigest(bytes: data)
        }
        return nil
    }

    /// The header value for `digest`.
    public static func headerValue(for digest: ResourceDigest) -> String {
        "sha-256=:" + Data(digest.bytes).base64EncodedString() + ":"
    }
}
