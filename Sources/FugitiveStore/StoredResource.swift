import FugitiveWire

/// What the store knows of a URL besides its bytes: enough to answer an HTTP client and
/// to decide whether the copy is still fresh.
public struct ResourceMetadata: Sendable, Hashable, Codable {
    public var url: String
    public var contentType: String?
    public var etag: String?
    public var lastModified: String?
    /// Seconds the origin allowed the copy to be reused (`Cache-Control: max-age`).
    public var maxAge: Int?
    /// When the bytes were stored (seconds since 1970).
    public var storedAt: Double

    public init(url: String, contentType: String? = nil, etag: String? = nil, lastModified: String? = nil, maxAge: Int? = nil, storedAt: Double) {
        self.url = url
        self.contentType = contentType
        self.etag = etag
        self.lastModified = lastModified
        self.maxAge = maxAge
        self.storedAt = storedAt
    }
}

/// Where a lookup was answered from.
public enum StoreTier: String, Sendable, Hashable {
    case memory, disk
}

/// Bytes with their digest, from the store.
public struct StoredBytes: Sendable, Hashable {
    public var digest: ResourceDigest
    public var bytes: [UInt8]
    public var tier: StoreTier
}

/// A blob the store holds and a URL it was stored under: what a peer announces as held.
public struct HeldBlob: Sendable, Hashable {
    public var digest: ResourceDigest
    public var url: String
    public var size: UInt64

    public init(digest: ResourceDigest, url: String, size: UInt64) {
        self.digest = digest
        self.url = url
        self.size = size
    }
}
