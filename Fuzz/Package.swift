// swift-tools-version: 6.1
// The libFuzzer harness for the wire decoders. A package of its own because it must be
// built with `--sanitize=fuzzer`; it compiles FugitiveWire's sources (a symlink) with
// coverage instrumentation. Run it with `scripts/fuzz-wire`.
import PackageDescription

let package = Package(
    name: "FugitiveFuzz",
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
    ],
    targets: [
        .target(name: "FugitiveWire", dependencies: [.product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio")]),
        .executableTarget(name: "FuzzWire", dependencies: ["FugitiveWire", .product(name: "NIOCore", package: "swift-nio")]),
    ],
    swiftLanguageModes: [.v6]
)
