import ArgumentParser
import IdemConfig
import IdemConsumerKit
import IdemPostgres
import IdemPostgresStore
import IdemRuntime
import IdemTerminal
import Logging

/// The options every `idem dlq` command takes (`--config`, `--consumer`), and what they
/// open: the consumer's dead letters and the replay audit.
struct DLQOptions: ParsableArguments {
    @OptionGroup var config: ConfigOptions

    @Option(help: ArgumentHelp("The consumer whose dead letters to use.", valueName: "name"))
    var consumer: String

    /// The configuration and the consumer named; an unknown name is a usage error (exit 2)
    /// naming the consumers there are.
    func load() throws -> (WorkerConfig, ConsumerConfig) {
        let loaded = try config.load()
        return (loaded, try ConfigOptions.consumer(consumer, in: loaded))
    }

    /// A logger for the broker clients: warnings and errors only, on standard error.
    static func logger(_ config: WorkerConfig) -> Logger {
        LogSetup.bootstrap(config.logging)
        var logger = Logger(label: "idem")
        logger.logLevel = .warning
        return logger
    }

    /// A PostgreSQL connection with the current schema (the audit table comes with
    /// migration 3). Exit 1, naming the endpoint, when PostgreSQL cannot be reached.
    static func connectAudit(
        _ config: WorkerConfig, command: String, logger: Logger
    ) async throws -> (PostgresConnection, ReplayAudit) {
        let connection = try await OperationsDatabase.connect(config, command: command, logger: logger)
        return (connection, ReplayAudit(connection: connection, table: DedupTableName(config.postgres.table)))
    }

    /// The consumer's dead-letter queue or topics. Exit 1, naming the endpoint, when the
    /// broker cannot be reached.
    static func openChannel(
        _ consumer: ConsumerConfig, command: String, logger: Logger
    ) async throws -> any DeadLetterChannel {
        do {
            return try await Registrations.brokers.adapter(for: consumer).openDeadLetterChannel(
                for: consumer, logger: logger)
        } catch {
            throw CLIFailure.runtime("idem \(command): \(consumer.name): \(error)")
        }
    }

    /// Reads `consumer`'s dead letters (at most `limit`) with what the audit knows of each,
    /// with a progress line, and closes what it opened; returns the listing and the name of
    /// what was read (`queue orders.dlq`).
    static func browse(
        _ config: WorkerConfig, _ consumer: ConsumerConfig, command: String, limit: Int?
    ) async throws -> (listing: DeadLetterBrowser.Listing, channel: String) {
        let logger = logger(config)
        let (connection, audit) = try await connectAudit(config, command: command, logger: logger)
        let channel: any DeadLetterChannel
        do {
            channel = try await openChannel(consumer, command: command, logger: logger)
        } catch {
            await connection.close()
            throw error
        }
        let progress = TerminalProgress("reading \(channel.name)", total: channel.count)
        defer { progress.finish() }
        let listing: DeadLetterBrowser.Listing
        do {
            listing = try await DeadLetterBrowser(consumer: consumer.name, channel: channel, audit: audit)
                .list(limit: limit) { progress.advance() }
        } catch {
            await channel.close()
            await connection.close()
            throw CLIFailure.runtime("idem \(command): \(consumer.name): \(error)")
        }
        await channel.close()
        await connection.close()
        return (listing, channel.name)
    }
}
