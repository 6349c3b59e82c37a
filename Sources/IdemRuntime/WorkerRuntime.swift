import IdemConfig
import IdemCore
import IdemPostgres
import Logging
import ServiceLifecycle
import UnixSignals

/// The whole worker of `idem run`: one service per consumer in a service group that stops
/// gracefully on SIGTERM or SIGINT within the configured grace period.
public struct WorkerRuntime: Sendable {
    /// The configuration it runs.
    public let config: WorkerConfig
    private let logger: Logger

    /// Creates the runtime for `config`.
    public init(config: WorkerConfig, logger: Logger) {
        self.config = config
        self.logger = logger
    }

    /// The consumers this build cannot run, each with the reason.
    public var unavailableConsumers: [(name: String, reason: String)] {
        config.consumers.compactMap { consumer in
            FeatureAvailability.unavailableReason(consumer).map { (consumer.name, $0) }
        }
    }

    /// Builds the service group. `gracePeriod` overrides the configured one.
    public func makeServiceGroup(gracePeriod: Duration? = nil) -> ServiceGroup {
        let pool = PostgresPool(
            url: config.postgres.url, size: config.postgres.poolSize, connectTimeout: config.postgres.connectTimeout,
            logger: logger)
        let table = DedupTableName(config.postgres.table)
        let readiness = StoreReadiness()
        let database = DatabaseService(
            pool: pool, table: table, endpoint: config.postgres.redactedURL, readiness: readiness, logger: logger)
        let store = PostgresDedupStore(pool: pool, table: table, logger: logger)
        let services =
            [
                ServiceGroupConfiguration.ServiceConfiguration(
                    service: database, successTerminationBehavior: .ignore,
                    failureTerminationBehavior: .gracefullyShutdownGroup)
            ]
            + config.consumers.map { consumer in
                ServiceGroupConfiguration.ServiceConfiguration(
                    service: consumerService(consumer, store: store, readiness: readiness),
                    successTerminationBehavior: .ignore,
                    failureTerminationBehavior: .gracefullyShutdownGroup)
            }
        var configuration = ServiceGroupConfiguration(
            services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        configuration.maximumGracefulShutdownDuration = gracePeriod ?? config.shutdown.gracePeriod
        configuration.maximumCancellationDuration = .seconds(5)
        return ServiceGroup(configuration: configuration)
    }

    /// The service that runs `consumer`: its adapter when this build has one for its source
    /// and handler, or a placeholder that says what is missing.
    private func consumerService(
        _ consumer: ConsumerConfig, store: any DedupStore, readiness: StoreReadiness
    ) -> any Service {
        guard FeatureAvailability.unavailableReason(consumer) == nil, let handler = Self.handler(for: consumer) else {
            return ConsumerService(config: consumer, logger: logger)
        }
        switch consumer.source {
        case .amqp(let source):
            return AMQPConsumerService(
                consumer: consumer, source: source, store: store, handler: handler, readiness: readiness,
                logger: logger)
        case .kafka(let source):
            return KafkaConsumerService(
                consumer: consumer, source: source, store: store, handler: handler, readiness: readiness,
                logger: logger)
        }
    }

    /// The handler a consumer's configuration names, when this build can run it.
    static func handler(for consumer: ConsumerConfig) -> (any MessageHandler)? {
        switch consumer.handler.kind {
        case .sql(let statement, let parameters):
            return SQLHandler(sql: statement, parameters: parameters, timeout: consumer.handler.timeout)
        case .exec, .plugin, .swift: return nil
        }
    }

    /// Runs until a shutdown signal, then stops within the grace period.
    public func run(gracePeriod: Duration? = nil) async throws {
        logger.info(
            "idem starting",
            metadata: [
                "config": .string(config.file),
                "consumers": .string(config.consumers.map(\.name).joined(separator: ",")),
            ])
        try await makeServiceGroup(gracePeriod: gracePeriod).run()
        logger.info("idem stopped")
    }
}
