import Foundation

/// Which content type a peer's `head` may give a resource. The origin's (from HEAD) always
/// wins; without it, a peer's is taken only from a list of passive types, since a type
/// like `text/html` on correct bytes would make a gateway or a page render what was meant
/// as data (stored XSS through the swarm). Anything else becomes `application/octet-stream`.
enum PeerContentType {
    static let passive: Set<String> = [
        "application/octet-stream", "application/json", "application/wasm", "application/pdf", "application/zip",
        "application/javascript", "text/javascript", "text/css", "text/plain", "text/csv",
        "image/png", "image/jpeg", "image/gif", "image/webp", "image/avif", "image/bmp", "image/x-icon", "image/vnd.microsoft.icon",
    ]
    static let passivePrefixes = ["video/", "audio/", "font/"]

    /// `type` when passive (its parameters kept), else `application/octet-stream`; `nil` stays `nil`.
    static func accepted(_ type: String?) -> String? {
        guard let type else { return nil }
        let essence = type.split(separator: ";", maxSplits: 1).first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        if passive.contains(essence) || passivePrefixes.contains(where: { essence.hasPrefix($0) && !essence.contains("xml") }) { return type }
        return "application/octet-stream"
    }
}
