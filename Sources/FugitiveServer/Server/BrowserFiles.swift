import Foundation
import Hummingbird

/// The browser peer's files, shipped as the target's resources (`Sources/FugitiveServer/Browser`):
/// `/fugitive.js` (the ES module pages import), the modules it re-exports (`/fugitive/<name>.js`),
/// `/fugitive-sw.js` (the Service Worker a site hosts), `/demo` (a gallery loaded through the swarm)
/// and `/dashboard` (the operator's page).
enum BrowserFiles {
    /// Read once; `nil` when the resource bundle is missing (a binary copied without it).
    static let module = load("fugitive", "js")
    /// The modules in `Browser/fugitive`, by file name (`codec.js`): only these names are served.
    static let parts: [String: ByteBuffer?] = Dictionary(
        uniqueKeysWithValues: ["codec", "wire", "store", "link", "peer", "site"].map { ("\($0).js", load($0, "js", in: "Browser/fugitive")) })
    /// The Service Worker a site copies to its own origin (`/fugitive/site.js` registers it);
    /// served here for the demo and for sites to copy.
    static let serviceWorker = load("fugitive-sw", "js")
    static let demo = load("demo", "html")
    /// The operator's page: no build step, no external resources. It polls `/v1/stats` and `/v1/graph` every
    /// second and shows the swarms, the link graph of the largest swarm, bytes delivered peer-to-peer vs from
    /// origins over time, and the resources with the most holders.
    static let dashboard = load("dashboard", "html")

    private static func load(_ name: String, _ ext: String, in subdirectory: String = "Browser") -> ByteBuffer? {
        guard let url = Bundle.module.url(forResource: name, withExtension: ext, subdirectory: subdirectory),
            let data = try? Data(contentsOf: url)
        else { return nil }
        return ByteBuffer(bytes: data)
    }

    /// - Parameter anyOrigin: adds `Access-Control-Allow-Origin: *` (the modules and the demo; not the dashboard).
    static func response(_ body: ByteBuffer?, type: String, anyOrigin: Bool = true) -> Response {
        guard let body else {
            return Response(status: .notFound, body: .init(byteBuffer: ByteBuffer(string: "the browser files were not installed with this server\n")))
        }
        var headers = HTTPFields()
        headers[.contentType] = type
        headers[.cacheControl] = "no-cache"
        // Any page may load the modules (they talk to this server only).
        if anyOrigin { headers[.accessControlAllowOrigin] = "*" }
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: body))
    }
}
