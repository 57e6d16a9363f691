import Foundation
import Logging
import NIOSSL
import PostgresNIO

/// Where the cluster's PostgreSQL is, from a `postgres://user[:password]@host[:port]/database`
/// URL (`sslmode=disable|prefer|require`, default `prefer`).
public struct PostgresLocation: Sendable, Equatable {
    public var host: String
    public var port: Int
    public var username: String
    public var password: String?
    public var database: String
    public var sslMode: String

    public struct InvalidURL: Error, CustomStringConvertible {
        public let description: String
    }

    public init(url text: String) throws {
        guard let components = URLComponents(string: text), ["postgres", "postgresql"].contains(components.scheme ?? ""),
            let host = components.host, !host.isEmpty
        else { throw InvalidURL(description: "not a postgres://user@host[:port]/database URL: \(text)") }
        guard let user = components.user, !user.isEmpty else { throw InvalidURL(description: "the URL names no user: \(text)") }
        self.host = host
        self.port = components.port ?? 5432
        self.username = user.removingPercentEncoding ?? user
        self.password = components.password.map { $0.removingPercentEncoding ?? $0 }
        let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        self.database = path.isEmpty ? self.username : path
        self.sslMode = components.queryItems?.first(where: { $0.name == "sslmode" })?.value ?? "prefer"
        guard ["disable", "prefer", "require"].contains(sslMode) else {
            throw InvalidURL(description: "sslmode must be disable, prefer or require, not \(sslMode)")
        }
    }

    /// The same server with another database (tests make one per run).
    public func with(database: String) -> PostgresLocation {
        var copy = self
        copy.database = database
        return copy
    }

    /// The location as a `postgres://` URL, what `--cluster` takes.
    public var url: String {
        var components = URLComponents()
        components.scheme = "postgres"
        components.user = username
        components.password = password
        components.host = host
        components.port = port
        components.path = "/" + database
        components.queryItems = [URLQueryItem(name: "sslmode", value: sslMode)]
        return components.string!
    }

    /// Creates a database named `prefix` and a random suffix on this server and returns
    /// its location (benchmarks and tests: a fresh, empty cluster each run).
    public func creatingUniqueDatabase(prefix: String, logger: Logger) async throws -> PostgresLocation {
        let fresh = with(database: prefix + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(16))
        try await fresh.createDatabase(logger: logger)
        return fresh
    }

    /// Creates the database this location names, connecting to the server's `postgres`
    /// database to do it (setup scripts and tests; the name must be a plain identifier).
    public func createDatabase(logger: Logger) async throws {
        guard !database.isEmpty, database.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) else {
            throw InvalidURL(description: "database name \(database) is not a plain identifier")
        }
        let connection = try await PostgresConnection.connect(
            configuration: with(database: "postgres").connectionConfiguration, id: 1, logger: logger)
        defer { Task { try? await connection.close() } }
        try await connection.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(database)"), logger: logger)
    }

    var tls: PostgresClient.Configuration.TLS {
        switch sslMode {
        case "disable": .disable
        case "require": .require(.makeClientConfiguration())
        default: .prefer(.makeClientConfiguration())
        }
    }

    var clientConfiguration: PostgresClient.Configuration {
        PostgresClient.Configuration(host: host, port: port, username: username, password: password, database: database, tls: tls)
    }

    var connectionConfiguration: PostgresConnection.Configuration {
        let connectionTLS: PostgresConnection.Configuration.TLS =
            switch sslMode {
            case "disable": .disable
            case "require": (try? .require(.init(configuration: .makeClientConfiguration()))) ?? .disable
            default: (try? .prefer(.init(configuration: .makeClientConfiguration()))) ?? .disable
            }
        return PostgresConnection.Configuration(
            host: host, port: port, username: username, password: password, database: database, tls: connectionTLS)
    }
}
