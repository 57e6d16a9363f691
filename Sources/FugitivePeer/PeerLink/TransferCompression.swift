import CompressNIO
import NIOCore

/// Per-resource deflate for peer transfers: only for content types that compress, and
/// only when it saves at least `minimumSaving` of the bytes. The receiving side inflates
/// with ``StreamingInflater``, bounded by the size the head announced.
public enum TransferCompression {
    /// The least fraction of bytes deflate must save to be used (10 %).
    public static let minimumSaving = 0.10
    /// Smaller resources are not worth a deflate stream.
    public static let minimumSize = 256

    /// Whether resources of `contentType` are worth trying to compress: text, JSON,
    /// JavaScript, XML, SVG, WebAssembly and similar — not images, audio, video or archives,
    /// which are compressed already.
    public static func isCompressible(_ contentType: String?) -> Bool {
        guard let contentType else { return false }
        let type = String(contentType.prefix { $0 != ";" }.filter { !$0.isWhitespace }).lowercased()
        if type.hasPrefix("text/") { return true }
        let compressible: Set<String> = [
            "application/json", "application/javascript", "application/xml", "application/wasm", "application/x-javascript",
            "application/manifest+json", "application/ld+json", "application/xhtml+xml", "image/svg+xml", "image/bmp",
            "application/vnd.apple.mpegurl", "application/x-mpegurl", "application/dash+xml", "font/ttf", "font/otf",
        ]
        return compressible.contains(type) || type.hasSuffix("+json") || type.hasSuffix("+xml")
    }

    /// The deflated form of `bytes` when the content type is compressible and deflate
    /// saves enough; `nil` means send them as they are.
    public static func deflateIfWorthIt(_ bytes: [UInt8], contentType: String?) -> ByteBuffer? {
        guard bytes.count >= minimumSize, isCompressible(contentType) else { return nil }
        var input = ByteBuffer(bytes: bytes)
        guard let deflated = try? input.compress(with: .deflate()) else { return nil }
        guard Double(deflated.readableBytes) <= Double(bytes.count) * (1 - minimumSaving) else { return nil }
        return deflated
    }
}
