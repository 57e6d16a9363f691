import Foundation

/// The project's executables as the tests run them: the release builds `make test` names
/// in `FUGITIVE_BINARY` and `FUGITIVE_BENCH_BINARY` (what users run), else the debug ones.
public enum Binaries {
    /// The repository's root.
    public static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// `fugitive`, the user's tool.
    public static var fugitive: URL { named("fugitive", environment: "FUGITIVE_BINARY") }

    /// `fugitive-bench`: the benchmarks and the helper processes tests start.
    public static var fugitiveBench: URL { named("fugitive-bench", environment: "FUGITIVE_BENCH_BINARY") }

    private static func named(_ name: String, environment key: String) -> URL {
        ProcessInfo.processInfo.environment[key].map(URL.init(fileURLWithPath:))
            ?? repository.appendingPathComponent(".build/debug/\(name)")
    }
}
