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
    private let metricsText: @Sendable () -> [UInt8]

    /// Creates the runtime for `config`; `handlers` are the Swift handlers a consumer may
    /// name with `handler: {swift: NAME}`; `metricsText` renders the metrics backend's
    /// exposition for `/metrics` (the executable bootstraps swift-metrics, with Prometheus
    /// for `idem run`).
    public init(
        config: WorkerConfig, logger: Logger, handlers: HandlerRegistry = HandlerRegistry(),
        metricsText: @escaping @Sendable () -> [UInt8] = { [] }
    ) {
        self.config = config
        self.logger = logger
        self.handlers = handlers
        self.metricsText = metricsText
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
        let health = HealthState(consumers: config.consumers.map(\.name))
        let minutes = MinuteStats()
        // Shutdown runs in reverse order: the retention sweepers stop first, then the
        // consumers, then the per-minute counts are written, then the listener and the
        // pool close.
        var supporting = [NamedService(description: "postgres", service: database)]
        if config.metrics.enabled {
            supporting.append(
                NamedService(
                    description: "operations listener",
                    service: OperationsServer(
                        host: config.metrics.host, port: config.metrics.port, health: health, metrics: metricsText,
                        logger: logger)))
            supporting.append(
                NamedService(
                    description: "postgres monitor",
                    service: DatabaseMonitor(
                        url: config.postgres.url, connectTimeout: config.postgres.connectTimeout, table: table,
                        pool: pool, health: health, interval: .seconds(2), logger: logger)))
        }
        supporting.append(
            NamedService(
                description: "stats writer",
                service: StatsFlusher(
                    minutes: minutes, pool: pool, table: table, readiness: readiness, interval: .seconds(10),
                    logger: logger)))
        let metrics = config.consumers.map { ConsumerMetrics(consumer: $0.name, minutes: minutes) }
        let consumers = zip(config.consumers, metrics).map { consumer, metrics in
            NamedService(
                description: "consumer \(consumer.name)",
                service: consumerService(
                    consumer, handler: handlers[consumer.name]!, store: store, readiness: readiness,
                    metrics: metrics, health: health))
        }
        // Retention: one sweeper per consumer.
        let retention = DedupRetention(pool: pool, table: table)
        let sweepers = zip(config.consumers, metrics).map { consumer, metrics in
            NamedService(
                description: "retention sweeper \(consumer.name)",
                service: RetentionSweeper(
                    consumer: consumer, store: retention, readiness: readiness, logger: logger,
                    onDeleted: { _, rows in metrics.retentionDeleted(rows) }))
        }
        let services = (supporting + consumers + sweepers).map { service in
            ServiceGroupConfiguration.ServiceConfiguration(
                service: service, successTerminationBehavior: .ignore,
                failureTerminationBehavior: .gracefullyShutdownGroup)
        }
        var configuration = ServiceGroupConfiguration(
            services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        configuration.maximumGracefulShutdownDuration = gracePeriod ?? config.shutdown.gracePeriod
        configuration.maximumCancellationDuration = .seconds(5)
        return ServiceGroup(configuration: configuration)
    }

    /// The service that runs `consumer`: the adapter for its source.
    private func consumerService(
        _ consumer: ConsumerConfig, handler: any MessageHandler, store: any DedupStore, readiness: StoreReadiness,
        metrics: ConsumerMetrics, health: HealthState
    ) -> any Service {
        // A statement handler's SQL runs pipelined inside the dedup transaction, which the
        // store recognises by its type: it is timed as the transaction's round trip.
        let handler = handler is any StatementHandler ? handler : MeasuredHandler(handler: handler, metrics: metrics)
        switch consumer.source {
        case .amqp(let source):
            return AMQPConsumerService(
                consumer: consumer, source: source, store: store, handler: handler, readiness: readiness,
                metrics: metrics, health: health, logger: logger)
        case .kafka(let source):
            return KafkaConsumerService(
                consumer: consumer, source: source, store: store, handler: handler, readiness: readiness,
                metrics: metrics, health: health, logger: logger)
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
