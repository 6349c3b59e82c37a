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
    private let handlers: HandlerRegistry

    /// Creates the runtime for `config`; `handlers` are the Swift handlers a consumer may
    /// name with `handler: {swift: NAME}`.
    public init(config: WorkerConfig, logger: Logger, handlers: HandlerRegistry = HandlerRegistry()) {
        self.config = config
        self.logger = logger
        self.handlers = handlers
    }

    /// What keeps each consumer's handler from being built (a Swift handler not registered,
    /// an exec command not found, a plugin that does not load), for `idem check-config`.
    public func handlerProblems() async -> [HandlerSetupError] {
        var problems: [HandlerSetupError] = []
        for consumer in config.consumers {
            if let message = await HandlerFactory.problem(consumer, registry: handlers, logger: logger) {
                problems.append(HandlerSetupError(consumer: consumer.name, message: message))
            }
        }
        return problems
    }

    /// Builds the service group around prepared handlers. `gracePeriod` overrides the
    /// configured one.
    func makeServiceGroup(handlers: [String: any MessageHandler], gracePeriod: Duration? = nil) -> ServiceGroup {
        let pool = PostgresPool(
            url: config.postgres.url, size: config.postgres.poolSize, connectTimeout: config.postgres.connectTimeout,
            logger: logger)
        let table = DedupTableName(config.postgres.table)
        let readiness = StoreReadiness()
        let database = DatabaseService(
            pool: pool, table: table, endpoint: config.postgres.redactedURL, readiness: readiness, logger: logger)
        let store = PostgresDedupStore(pool: pool, table: table, logger: logger)
        var services =
            [
                ServiceGroupConfiguration.ServiceConfiguration(
                    service: database, successTerminationBehavior: .ignore,
                    failureTerminationBehavior: .gracefullyShutdownGroup)
            ]
            + config.consumers.map { consumer in
                ServiceGroupConfiguration.ServiceConfiguration(
                    service: consumerService(
                        consumer, handler: handlers[consumer.name]!, store: store, readiness: readiness),
                    successTerminationBehavior: .ignore,
                    failureTerminationBehavior: .gracefullyShutdownGroup)
            }
        // Retention: one sweeper per consumer, after the consumers so that it stops first.
        let retention = DedupRetention(pool: pool, table: table)
        services += config.consumers.map { consumer in
            ServiceGroupConfiguration.ServiceConfiguration(
                service: RetentionSweeper(consumer: consumer, store: retention, readiness: readiness, logger: logger),
                successTerminationBehavior: .ignore, failureTerminationBehavior: .gracefullyShutdownGroup)
        }
        var configuration = ServiceGroupConfiguration(
            services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        configuration.maximumGracefulShutdownDuration = gracePeriod ?? config.shutdown.gracePeriod
        configuration.maximumCancellationDuration = .seconds(5)
        return ServiceGroup(configuration: configuration)
    }

    /// The service that runs `consumer`: the adapter for its source.
    private func consumerService(
        _ consumer: ConsumerConfig, handler: any MessageHandler, store: any DedupStore, readiness: StoreReadiness
    ) -> any Service {
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

    /// Runs until a shutdown signal, then stops within the grace period.
    public func run(gracePeriod: Duration? = nil) async throws {
        logger.info(
            "idem starting",
            metadata: [
                "config": .string(config.file),
                "consumers": .string(config.consumers.map(\.name).joined(separator: ",")),
            ])
        var prepared: [String: HandlerFactory.Prepared] = [:]
        do {
            for consumer in config.consumers {
                prepared[consumer.name] = try await HandlerFactory.make(consumer, registry: handlers, logger: logger)
            }
        } catch {
            for handler in prepared.values { await handler.close() }
            throw error
        }
        do {
            try await makeServiceGroup(handlers: prepared.mapValues(\.handler), gracePeriod: gracePeriod).run()
        } catch {
            for handler in prepared.values { await handler.close() }
            throw error
        }
        for handler in prepared.values { await handler.close() }
        logger.info("idem stopped")
    }
}
