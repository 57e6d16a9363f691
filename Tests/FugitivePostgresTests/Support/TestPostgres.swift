import Foundation
import FugitivePostgres
import FugitiveTestSupport
import Logging

/// The PostgreSQL server of the cluster tests: `make test` starts one (scripts/postgres)
/// and names it in FUGITIVE_POSTGRES_URL. Each test gets a database of its own.
enum TestPostgres {
    static var url: String? { ProcessInfo.processInfo.environment["FUGITIVE_POSTGRES_URL"] }

    /// Whether the PostgreSQL tests run: with a server, or when one is required (then a
    /// missing server fails them instead of skipping them).
    static var enabled: Bool { url != nil || ProcessInfo.processInfo.environment["FUGITIVE_REQUIRE_POSTGRES"] == "1" }

    static var logger: Logger {
        var logger = Logger(label: "test.postgres")
        logger.logLevel = .critical
        return logger
    }

    /// A fresh, empty database on the test server.
    static func database() async throws -> PostgresLocation {
        guard let url else { throw TestFailure("FUGITIVE_POSTGRES_URL is not set: run `make test`, or scripts/postgres start") }
        let server = try PostgresLocation(url: url.contains("sslmode") ? url : url + "?sslmode=disable")
        return try await server.creatingUniqueDatabase(prefix: "fugitive_test_", logger: logger)
    }
}
