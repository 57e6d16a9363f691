import FugitiveWire

/// The demo's generated catalogue: resources of mixed types and sizes, deterministic for
/// a seed — text that compresses (scripts, styles, JSON, HTML) and bytes that do not
/// (images, video segments, archives).
struct DemoCatalogue: Sendable {
    struct Item: Sendable {
        var path: String
        var contentType: String
        var body: [UInt8]
        var digest: ResourceDigest
    }

    let items: [Item]

    private static let kinds: [(ext: String, type: String, text: Bool)] = [
        ("js", "text/javascript", true), ("jpg", "image/jpeg", false), ("json", "application/json", true),
        ("m4s", "video/iso.segment", false), ("css", "text/css", true), ("png", "image/png", false),
        ("html", "text/html; charset=utf-8", true), ("bin", "application/octet-stream", false),
        ("svg", "image/svg+xml", true),
    ]

    private static let words = [
        "peer", "swarm", "origin", "segment", "digest", "channel", "offer", "answer", "candidate", "holder",
        "fugitive", "chunk", "verify", "cache", "link", "relay",
    ]

    /// `count` resources up to `maxSize` bytes each (at least a tenth of it).
    init(count: Int, maxSize: Int, seed: UInt64) {
        var random = SplitMix64(seed: seed)
        items = (0..<count).map { index in
            let kind = Self.kinds[index % Self.kinds.count]
            let size = max(1024, maxSize / 10 + Int(random.next() % UInt64(max(1, maxSize - maxSize / 10))))
            var body = [UInt8]()
            body.reserveCapacity(size)
            if kind.ext == "svg" {
                body = Self.picture(size: size, random: &random)
            } else if kind.text {
                while body.count < size {
                    body += Array(Self.words[Int(random.next() % UInt64(Self.words.count))].utf8)
                    body.append(random.next() % 9 == 0 ? 10 : 32)
                }
                body.removeLast(body.count - size)
            } else {
                while body.count < size {
                    withUnsafeBytes(of: random.next()) { body += $0.prefix(size - body.count) }
                }
            }
            return Item(path: "/catalogue/\(index).\(kind.ext)", contentType: kind.type, body: body, digest: ResourceDigest.sha256(of: body))
        }
    }

    var totalBytes: Int { items.reduce(0) { $0 + $1.body.count } }

    /// The pictures the browser gallery (`/demo`) shows: circles, padded to about `size`.
    private static func picture(size: Int, random: inout SplitMix64) -> [UInt8] {
        var svg = "<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 200 200'>"
        while svg.utf8.count < size - 120 {
            let (x, y, r) = (random.next() % 200, random.next() % 200, 4 + random.next() % 30)
            let color = String(random.next() % 0xffffff, radix: 16)
            svg += "<circle cx='\(x)' cy='\(y)' r='\(r)' fill='#\(color)' fill-opacity='0.6'/>"
        }
        return Array((svg + "</svg>").utf8)
    }

    /// The catalogue's pictures, for the gallery page.
    var pictures: [Item] { items.filter { $0.contentType == "image/svg+xml" } }
}
