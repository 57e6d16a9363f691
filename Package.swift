// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "Fugitive",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "FugitiveWire", targets: ["FugitiveWire"]),
        .library(name: "FugitiveServer", targets: ["FugitiveServer"]),
        .library(name: "FugitiveRTC", targets: ["FugitiveRTC"]),
        .library(name: "FugitiveStore", targets: ["FugitiveStore"]),
        .library(name: "FugitivePeer", targets: ["FugitivePeer"]),
        .library(name: "FugitiveGateway", targets: ["FugitiveGateway"]),
        .library(name: "FugitivePostgres", targets: ["FugitivePostgres"]),
        .executable(name: "fugitive", targets: ["fugitive"]),
        .executable(name: "fugitive-bench", targets: ["fugitive-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket", from: "2.8.1"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/adam-fowler/compress-nio", from: "1.5.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
    ],
    targets: [
        .target(
            name: "FugitiveWire",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // WebRTC data channels: Debian's libnice (ICE), OpenSSL (DTLS) and usrsctp (SCTP)
        // behind a one-call-per-function C shim.
        .systemLibrary(name: "CLibNice", pkgConfig: "nice", providers: [.apt(["libnice-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CUsrsctp", pkgConfig: "usrsctp", providers: [.apt(["libusrsctp-dev"])]),
        .target(name: "CFugitiveRTCShim", dependencies: ["CLibNice", "COpenSSL", "CUsrsctp"]),
        .target(
            name: "FugitiveRTC",
            dependencies: [
                "CLibNice", "COpenSSL", "CUsrsctp", "CFugitiveRTCShim",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "FugitiveStore",
            dependencies: [
                "FugitiveWire",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "FugitivePeer",
            dependencies: [
                "FugitiveWire", "FugitiveRTC", "FugitiveStore",
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "FugitiveGateway",
            dependencies: [
                "FugitivePeer", "FugitiveWire",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "FugitiveServer",
            dependencies: [
                "FugitiveWire",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            // The browser peer (`/fugitive.js` and its modules), the demo page and the dashboard, kept as plain files.
            resources: [.copy("Browser")]
        ),
        // The cluster's shared store on PostgreSQL (the orchestrator itself needs none).
        .target(
            name: "FugitivePostgres",
            dependencies: [
                "FugitiveServer", "FugitiveWire",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "fugitive",
            dependencies: [
                "FugitiveWire", "FugitiveServer", "FugitivePeer", "FugitiveStore", "FugitiveGateway", "FugitivePostgres",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The benchmarks and the processes tests start (`rtc-peer`, `rtc-churn`, floors).
        .executableTarget(
            name: "fugitive-bench",
            dependencies: [
                "FugitiveWire", "FugitiveRTC", "FugitivePostgres", "FugitiveLab",
                // The lab's swarm (services, peers, the NAT matrix) for `net`.
                "FugitiveTestSupport",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The network lab: an internet in network namespaces (a public segment, homes behind
        // NAT routers of every RFC 4787 kind, coturn), for the lab tests and `fugitive-bench net`.
        .target(name: "FugitiveLab", dependencies: ["CFugitiveLabShim", "FugitiveWire", .product(name: "Crypto", package: "swift-crypto")]),
        // The lab's C: TAP devices (TUNSETIFF) and ppoll for its user-space link stage.
        .target(name: "CFugitiveLabShim"),
        // What the test targets share: the HTTP test origin, a seeded generator, resident
        // memory, raw TCP connections, and the network lab (namespaces, veth, a DNS server
        // of the test's own).
        .target(
            name: "FugitiveTestSupport",
            dependencies: [
                "FugitiveWire", "FugitiveLab", .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Hummingbird", package: "hummingbird"), .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"), .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Tests/FugitiveTestSupport"
        ),
        // A real orchestrator in the test's process, and a wire-protocol client to talk to
        // it: for the server's, the peers' and the end-to-end tests.
        .target(
            name: "FugitiveServerTesting",
            dependencies: [
                "FugitiveServer", "FugitiveWire", "FugitiveTestSupport",
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Tests/FugitiveServerTesting"
        ),
        // Native peers started for a test, and waits for what they do.
        .target(
            name: "FugitivePeerTesting",
            dependencies: [
                "FugitivePeer", "FugitiveStore", "FugitiveWire", "FugitiveTestSupport", .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/FugitivePeerTesting"
        ),
        // One test target per library; FugitiveEndToEndTests holds the tests that run the
        // `fugitive` and `fugitive-bench` binaries, headless Chromium and network labs.
        .testTarget(
            name: "FugitiveWireTests",
            dependencies: ["FugitiveWire", "FugitiveTestSupport", .product(name: "NIOCore", package: "swift-nio")],
            // The randomised corpus generators are far too slow unoptimised.
            swiftSettings: [.unsafeFlags(["-O"])]
        ),
        .testTarget(name: "FugitiveStoreTests", dependencies: ["FugitiveStore", "FugitiveWire", .product(name: "Logging", package: "swift-log")]),
        .testTarget(
            name: "FugitiveRTCTests",
            dependencies: [
                "FugitiveRTC", "FugitiveTestSupport", .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "FugitiveServerTests",
            dependencies: [
                "FugitiveServer", "FugitiveWire", "FugitiveTestSupport", "FugitiveServerTesting",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        .testTarget(
            name: "FugitivePeerTests",
            dependencies: [
                "FugitivePeer", "FugitiveServer", "FugitiveWire", "FugitiveRTC", "FugitiveStore",
                "FugitiveTestSupport", "FugitiveServerTesting", "FugitivePeerTesting",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(
            name: "FugitiveGatewayTests",
            dependencies: [
                "FugitiveGateway", "FugitivePeer", "FugitiveServer", "FugitiveWire", "FugitiveTestSupport", "FugitiveServerTesting",
                "FugitivePeerTesting",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The cluster on PostgreSQL: the store itself, two live instances, peers across them.
        .testTarget(
            name: "FugitivePostgresTests",
            dependencies: [
                "FugitivePostgres", "FugitiveServer", "FugitivePeer", "FugitiveWire", "FugitiveTestSupport", "FugitiveServerTesting",
                "FugitivePeerTesting",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Native peers across the network lab's NATs, through coturn.
        .testTarget(
            name: "FugitiveLabTests",
            dependencies: ["FugitiveLab", "FugitiveTestSupport", "FugitiveWire"]
        ),
        .testTarget(
            name: "FugitiveEndToEndTests",
            dependencies: [
                "FugitivePeer", "FugitiveServer", "FugitiveWire", "FugitiveGateway", "FugitiveStore", "FugitiveTestSupport",
                "FugitiveServerTesting", "FugitivePeerTesting",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
