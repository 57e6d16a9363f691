import NIOCore

/// A message on the peer link (peer ↔ peer, one binary data-channel message each,
/// at most 16 KiB). Either peer may send any of them; roles follow the request id.
public enum PeerMessage: Hashable, Sendable {
    case request(Request)
    case head(ResponseHead)
    case chunk(Chunk)
    case miss(RequestRef)
    case busy(Busy)
    case cancel(RequestRef)
    case ping(Heartbeat)
    case pong(Heartbeat)
    case error(ErrorMessage)

    /// The stable type number written in the envelope.
    public var type: UInt8 {
        switch self {
        case .request: 1
        case .head: 2
        case .chunk: 3
        case .miss: 4
        case .busy: 5
        case .cancel: 6
        case .ping: 7
        case .pong: 8
        case .error: 9
        }
    }

    var body: any WireBody {
        switch self {
        case .request(let b): b
        case .head(let b): b
        case .chunk(let b): b
        case .miss(let b): b
        case .busy(let b): b
        case .cancel(let b): b
        case .ping(let b): b
        case .pong(let b): b
        case .error(let b): b
        }
    }

    static func decodeBody(type: UInt8, _ decode: (any WireBody.Type) throws -> any WireBody) throws -> PeerMessage? {
        switch type {
        case 1: .request(try decode(Request.self) as! Request)
        case 2: .head(try decode(ResponseHead.self) as! ResponseHead)
        case 3: .chunk(try decode(Chunk.self) as! Chunk)
        case 4: .miss(try decode(RequestRef.self) as! RequestRef)
        case 5: .busy(try decode(Busy.self) as! Busy)
        case 6: .cancel(try decode(RequestRef.self) as! RequestRef)
        case 7: .ping(try decode(Heartbeat.self) as! Heartbeat)
        case 8: .pong(try decode(Heartbeat.self) as! Heartbeat)
        case 9: .error(try decode(ErrorMessage.self) as! ErrorMessage)
        default: nil
        }
    }
}

/// `request` (type 1): send me the resource with this digest.
public struct Request: WireBody {
    /// Chosen by the requester, unique among its open requests on this link.
    public var id: UInt32
    public var digest: ResourceDigest
    /// The URL, informative only: the responder serves by digest.
    public var url: String?
    /// Whether the requester can inflate a deflate-compressed transfer.
    public var acceptsDeflate: Bool

    enum CodingKeys: String, CodingKey { case id = "q", digest = "d", url = "u", acceptsDeflate = "z" }

    public init(id: UInt32, digest: ResourceDigest, url: String? = nil, acceptsDeflate: Bool = true) {
        self.id = id
        self.digest = digest
        self.url = url
        self.acceptsDeflate = acceptsDeflate
    }

    public func validate(_ limits: WireLimits) throws(WireError) {
        try limits.check(url, max: limits.maxURLLength, "request.url")
    }
}

/// How the bytes of a transfer are encoded.
public enum TransferEncoding: UInt8, Codable, Hashable, Sendable {
    case identity = 0
    /// Raw deflate (RFC 1951); the receiver inflates, bounded by `contentLength`.
    case deflate = 1
}

/// `head` (type 2): the responder has the resource; chunks follow.
public struct ResponseHead: WireBody {
    public var id: UInt32
    /// Bytes that will be transferred (after encoding).
    public var transferLength: UInt64
    /// Bytes of the resource itself (after decoding); the digest covers these.
    public var contentLength: UInt64
    public var encoding: TransferEncoding
    /// Payload bytes in every chunk but the last.
    public var chunkSize: UInt32
    public var contentType: String?

    enum CodingKeys: String, CodingKey {
        case id = "q", transferLength = "t", contentLength = "n", encoding = "e", chunkSize = "c", contentType = "y"
    }

    public init(id: UInt32, transferLength: UInt64, contentLength: UInt64, encoding: TransferEncoding, chunkSize: UInt32, contentType: String? = nil)
    {
        self.id = id
        self.transferLength = transferLength
        self.contentLength = contentLength
        self.encoding = encoding
        self.chunkSize = chunkSize
        self.contentType = contentType
    }

    /// Chunks the transfer consists of.
    public var chunkCount: UInt64 {
        chunkSize == 0 ? 0 : (transferLength + UInt64(chunkSize) - 1) / UInt64(chunkSize)
    }

    public func validate(_ limits: WireLimits) throws(WireError) {
        guard chunkSize > 0 || transferLength == 0, Int(chunkSize) <= limits.maxFrameSize else {
            throw WireError(.invalidField, "head.chunkSize \(chunkSize) not in 1...\(limits.maxFrameSize)")
        }
        if encoding == .identity, transferLength != contentLength {
            throw WireError(.invalidField, "identity transfer of \(transferLength) bytes for content of \(contentLength)")
        }
        try limits.check(contentType, max: limits.maxTextLength, "head.contentType")
    }
}

/// `chunk` (type 3): payload bytes `index * chunkSize ..< …` of a transfer.
public struct Chunk: WireBody {
    public var id: UInt32
    public var index: UInt32
    public var data: ByteBuffer

    enum CodingKeys: String, CodingKey { case id = "q", index = "i", data = "b" }

    public init(id: UInt32, index: UInt32, data: ByteBuffer) {
        self.id = id
        self.index = index
        self.data = data
    }
}

/// `miss` (type 4) and `cancel` (type 6): a request id and nothing else.
public struct RequestRef: WireBody {
    public var id: UInt32

    enum CodingKeys: String, CodingKey { case id = "q" }

    public init(id: UInt32) { self.id = id }
}

/// `busy` (type 5): all upload slots are taken; try elsewhere or after `retryAfterMillis`.
public struct Busy: WireBody {
    public var id: UInt32
    public var retryAfterMillis: UInt32?

    enum CodingKeys: String, CodingKey { case id = "q", retryAfterMillis = "r" }

    public init(id: UInt32, retryAfterMillis: UInt32? = nil) {
        self.id = id
        self.retryAfterMillis = retryAfterMillis
    }
}
