import ArgumentParser
import IdemConfig
import IdemConsumerKit
import IdemPostgres
import IdemPostgresStore
import IdemRuntime
import Logging

/// `idem migrate --config FILE`: creates or upgrades the dedup schema.
struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create or upgrade the dedup table's schema.",
        discussion: """
            Versioned and idempotent: running it again does nothing, and several workers may \
            run it at once (an advisory lock serialises them). Fails fast, naming the host and \
            port, when PostgreSQL cannot be reached (exit 1).
            """
    )

    @OptionGroup var options: ConfigOptions

    func run() async throws {
        let config = try options.load()
        LogSetup.bootstrap(config.logging)
        let logger = Logger(label: "idem")
        let table = DedupTableName(config.postgres.table)
        let connection: PostgresConnection
        do {
            connection = try await PostgresConnection.connect(
                url: config.postgres.url, connectTimeout: config.postgres.connectTimeout,
                applicationName: "idem migrate",
                logger: logger)
        } catch {
            throw CLIFailure.runtime("idem migrate: \(error)")
        }
        do {
            let report = try await SchemaMigrator(table: table, logger: logger).migrate(on: connection)
            await connection.close()
            if report.from == report.to {
                print("\(table): schema already at version \(report.to)")
            } else {
                print("\(table): schema migrated from version \(report.from) to \(report.to)")
            }
        } catch {
            await connection.close()
            throw CLIFailure.runtime("idem migrate: \(error)")
        }
    }
}
