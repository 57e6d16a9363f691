// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "Fugitive",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "FugitiveWire", targets: ["FugitiveWire"]),
        .library(name: "FugitiveServer", targets: ["FugitiveServer"]),
        .executable(name: "fugitive", targets: ["fugitive"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        .target(
            name: "FugitiveWire",
            dependencies: [.product(name: "NIOCore", package: "swift-nio")]
        ),
        .target(
            name: "FugitiveServer",
            dependencies: ["FugitiveWire"]
        ),
        .executableTarget(
            name: "fugitive",
            dependencies: [
                "FugitiveWire",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "FugitiveWireTests",
            dependencies: ["FugitiveWire", .product(name: "NIOCore", package: "swift-nio")],
            // The randomised corpus generators are far too slow unoptimised.
            swiftSettings: [.unsafeFlags(["-O"])]
        ),
        .testTarget(
            name: "FugitiveServerTests",
            dependencies: ["FugitiveServer", "FugitiveWire"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
