import Foundation
import Hummingbird

/// The browser peer's files, shipped as the target's resources (`Sources/FugitiveServer/Browser`):
/// `/fugitive.js` (the ES module) and `/demo` (a gallery loaded through the swarm).
enum BrowserFiles {
    /// Read once; `nil` when the resource bundle is missing (a binary copied without it).
    static let module = load("fugitive", "js")
    static let demo = load("demo", "html")

    private static func load(_ name: String, _ ext: String) -> ByteBuffer? {
        guard let url = Bundle.module.url(forResource: name, withExtension: ext, subdirectory: "Browser"),
            let data = try? Data(contentsOf: url)
        else { return nil }
        return ByteBuffer(bytes: data)
    }

    static func response(_ body: ByteBuffer?, type: String) -> Response {
        guard let body else {
            return Response(status: .notFound, body: .init(byteBuffer: ByteBuffer(string: "the browser files were not installed with this server\n")))
        }
        var headers = HTTPFields()
        headers[.contentType] = type
        headers[.cacheControl] = "no-cache"
        // Any page may load the module (it talks to this server only).
        headers[.accessControlAllowOrigin] = "*"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: body))
    }
}
