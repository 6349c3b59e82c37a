import IdemConcurrency
import IdemConsumerKit
import IdemCore
import IdemPostgres
import Logging
import ServiceLifecycle

/// Connects the worker to PostgreSQL and checks the dedup schema before anything is
/// consumed.
///
/// While PostgreSQL cannot be reached it keeps trying, with exponential backoff, and says
/// so in the log (fail closed: nothing is consumed meanwhile). A schema older than this
/// build needs stops the worker with an error that says to run `idem migrate`.
public struct DatabaseService: Service {
    private let pool: PostgresPool
    private let migrator: SchemaMigrator
    private let endpoint: String
    private let readiness: StoreReadiness
    private let logger: Logger

    /// Creates the service for `pool`; `endpoint` names the server in log lines.
    public init(
        pool: PostgresPool, table: DedupTableName, endpoint: String, readiness: StoreReadiness, logger: Logger
    ) {
        self.readiness = readiness
        self.pool = pool
        self.migrator = SchemaMigrator(table: table, logger: logger)
        self.endpoint = endpoint
        self.logger = logger
    }

    public func run() async throws {
        do {
            try await cancelWhenGracefulShutdown { try await waitUntilReady() }
            try await gracefulShutdown()
        } catch is CancellationError {
            // Shut down while still waiting for PostgreSQL.
        }
        await pool.close()
    }

    private func waitUntilReady() async throws {
        var backoff = Backoff(initial: .milliseconds(200), maximum: .seconds(10))
        while true {
            let delay = backoff.current
            do {
                try await pool.withConnection { connection in try await migrator.requireCurrent(on: connection) }
                logger.info("PostgreSQL ready", metadata: ["postgres": .string(endpoint)])
                await readiness.markReady()
                return
            } catch let error as DedupStoreError {
                if error.code == .schemaOutdated { throw error }
                logger.warning("PostgreSQL unavailable, retrying in \(delay): \(error)")
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                logger.warning(
                    "PostgreSQL unavailable, retrying in \(delay): \(error)",
                    metadata: ["postgres": .string(endpoint)])
            }
            try await Task.sleep(for: backoff.next())
        }
    }
}
