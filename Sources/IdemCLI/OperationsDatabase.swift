import IdemConfig
import IdemConsumerKit
import IdemPostgres
import IdemPostgresStore
import IdemRuntime
import Logging

/// What the one-off database commands (`idem purge`, `idem stats`) share: choosing the
/// consumers asked for, and a connection to a migrated dedup table, with their failures as
/// CLI errors.
enum OperationsDatabase {
    /// The consumers named with `--consumer` (in the configuration's order), or every
    /// consumer when none is named. An unknown name is a usage error (exit 2).
    static func consumers(named names: [String], in config: WorkerConfig, command: String) throws
        -> [ConsumerConfig]
    {
        let known = Set(config.consumers.map(\.name))
        let unknown = names.filter { !known.contains($0) }
        guard unknown.isEmpty else {
            throw CLIFailure.config(
                "idem \(command): no consumer named \(unknown.map { "'\($0)'" }.joined(separator: ", ")) in \(config.file) (its consumers: \(config.consumers.map(\.name).joined(separator: ", ")))"
            )
        }
        guard !names.isEmpty else { return config.consumers }
        return config.consumers.filter { names.contains($0.name) }
    }

    /// Connects to PostgreSQL and checks that the dedup table's schema is current. An
    /// unreachable server or an unmigrated table is a runtime failure (exit 1) whose message
    /// shows the URL without its password.
    static func connect(_ config: WorkerConfig, command: String, logger: Logger) async throws -> PostgresConnection {
        let connection: PostgresConnection
        do {
            connection = try await PostgresConnection.connect(
                url: config.postgres.url, connectTimeout: config.postgres.connectTimeout,
                applicationName: "idem \(command)", logger: logger)
        } catch {
            throw CLIFailure.runtime(
                "idem \(command): cannot reach PostgreSQL at \(config.postgres.redactedURL): \(error)")
        }
        do {
            try await SchemaMigrator(table: DedupTableName(config.postgres.table), logger: logger)
                .requireCurrent(on: connection)
        } catch {
            await connection.close()
            throw CLIFailure.runtime("idem \(command): \(error)")
        }
        return connection
    }

    /// A logger for these commands: warnings and errors only, on standard error.
    static func logger() -> Logger {
        var logger = Logger(label: "idem")
        logger.logLevel = .warning
        return logger
    }
}
