import AsyncHTTPClient
import Foundation
import NIOCore

/// Plain HTTP requests from a test, with what came back.
public enum TestHTTP {
    /// A response, whole.
    public struct Answer: Sendable {
        public let status: Int
        /// Header names lower-cased; the first value of a repeated one.
        public let headers: [String: String]
        public let bytes: [UInt8]
        /// The body as UTF-8 text.
        public var body: String { String(decoding: bytes, as: UTF8.self) }
    }

    /// GETs `url` with `headers` (a body up to 64 MiB, within 30 s).
    public static func get(_ url: String, headers: [(String, String)] = []) async throws -> Answer {
        var request = HTTPClientRequest(url: url)
        for (name, value) in headers { request.headers.replaceOrAdd(name: name, value: value) }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        var body = try await response.body.collect(upTo: 64 << 20)
        let fields = Dictionary(response.headers.map { ($0.name.lowercased(), $0.value) }, uniquingKeysWith: { first, _ in first })
        return Answer(status: Int(response.status.code), headers: fields, bytes: body.readBytes(length: body.readableBytes) ?? [])
    }
}
