import IdemConfig
import IdemConsumerKit
import IdemCore
import IdemOperations
import IdemPostgres
import IdemPostgresStore
import Logging
import ServiceLifecycle
import Tracing
import UnixSignals

/// The whole worker of `idem run`: one service per consumer in a service group that stops
/// gracefully on SIGTERM or SIGINT within the configured grace period.
///
/// Each consumer runs under a ``ConsumerSupervisor`` with the broker adapter its source
/// kind names in the ``BrokerRegistry``: the runtime itself knows no broker.
public struct WorkerRuntime: Sendable {
    /// The configuration it runs.
    public let config: WorkerConfig
    private let logger: Logger
    private let handlers: HandlerRegistry
    private let brokers: BrokerRegistry
    private let metricsText: @Sendable () -> [UInt8]
    private let spans: SpanExport?

    /// Where consumer spans go when `tracing:` exports them: the tracer, and the service
    /// that batches and sends its spans (it runs first and stops last, so the spans of the
    /// last messages are sent).
    public struct SpanExport: Sendable {
        /// The tracer that starts each message's span.
        public var tracer: any Tracer
        /// The exporter's background service.
        public var service: any Service
        /// The share of messages without a trace context whose span is sampled; the
        /// tracer's own sampler should sample every span it is asked for.
        public var sampleRatio: Double

        /// The export of `tracer`'s spans by `service`, sampling `sampleRatio` of new traces.
        public init(tracer: any Tracer, service: any Service, sampleRatio: Double = 1) {
            self.tracer = tracer
            self.sampleRatio = sampleRatio
            self.service = service
        }
    }

    /// Creates the runtime for `config`; `handlers` are the Swift handlers a consumer may
    /// name with `handler: {swift: NAME}`; `brokers` are the broker adapters consumers run
    /// with, by source kind; `metricsText` renders the metrics backend's
    /// exposition for `/metrics` (the executable bootstraps swift-metrics, with Prometheus
    /// for `idem run`); `spans` exports a consumer span per message (the executable makes
    /// it from `tracing:`).
    public init(
        config: WorkerConfig, logger: Logger, handlers: HandlerRegistry = HandlerRegistry(),
        brokers: BrokerRegistry, metricsText: @escaping @Sendable () -> [UInt8] = { [] }, spans: SpanExport? = nil
    ) {
        self.spans = spans
        self.config = config
        self.logger = logger
        self.handlers = handlers
        self.brokers = brokers
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

    /// The consumers whose source kind has no broker adapter registered, for
    /// `idem check-config` and before `idem run` starts.
    public func brokerProblems() -> [BrokerRegistryError] {
        config.consumers.compactMap { consumer in
            do throws(BrokerRegistryError) {
                _ = try brokers.adapter(for: consumer)
                return nil
            } catch {
                return error
            }
        }
    }

    /// Builds the service group around prepared handlers. `gracePeriod` overrides the
    /// configured one.
    func makeServiceGroup(
        handlers: [String: any MessageHandler], gracePeriod: Duration? = nil
    ) throws(BrokerRegistryError) -> ServiceGroup {
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
        let metrics = config.consumers.map { ConsumerMetrics(consumer: $0.name, minutes: minutes) }
        let controls = config.consumers.map { _ in ConsumerControl() }
        for (consumer, control) in zip(config.consumers, controls) { health.attach(control, to: consumer.name) }
        let admin: AdminAPI? =
            config.admin.enabled
            ? AdminAPI(
                roster: ConsumerRoster(
                    entries: zip(config.consumers, zip(controls, metrics)).map { consumer, pair in
                        ConsumerRoster.Entry(
                            name: consumer.name, broker: consumer.source.kind.rawValue, control: pair.0,
                            metrics: pair.1)
                    }, health: health), token: config.admin.token)
            : nil
        var supporting: [NamedService] = []
        if let spans { supporting.append(NamedService(description: "span exporter", service: spans.service)) }
        supporting.append(NamedService(description: "postgres", service: database))
        if config.metrics.enabled {
            let shared = config.admin.listen == .metrics ? admin : nil
            supporting.append(
                NamedService(
                    description: "operations listener",
                    service: OperationsServer(
                        host: config.metrics.host, port: config.metrics.port, health: health, metrics: metricsText,
                        admin: shared, logger: logger)))
            supporting.append(
                NamedService(
                    description: "postgres monitor",
                    service: DatabaseMonitor(
                        url: config.postgres.url, connectTimeout: config.postgres.connectTimeout, table: table,
                        pool: pool, health: health, interval: .seconds(2), logger: logger)))
        }
        if let admin, case .address(let host, let port) = config.admin.listen {
            supporting.append(
                NamedService(
                    description: "admin API",
                    service: OperationsServer(adminHost: host, port: port, admin: admin, logger: logger)))
        }
        supporting.append(
            NamedService(
                description: "stats writer",
                service: StatsFlusher(
                    minutes: minutes, pool: pool, table: table, readiness: readiness, interval: .seconds(10),
                    logger: logger)))
        var consumers: [NamedService] = []
        for ((consumer, metrics), control) in zip(zip(config.consumers, metrics), controls) {
            let handler = handlers[consumer.name]!
            // A statement handler's SQL runs pipelined inside the dedup transaction, which
            // the store recognises by its type: it is timed as the transaction's round trip.
            var measured =
                handler is any StatementHandler ? handler : MeasuredHandler(handler: handler, metrics: metrics)
            if let tracer = spans?.tracer, !(handler is any StatementHandler) {
                measured = TracedHandler(handler: measured, tracer: tracer)
            }
            let context = ConsumerContext(
                consumer: consumer, store: store, handler: measured, readiness: readiness, metrics: metrics,
                health: health, control: control, logger: logger, tracer: spans?.tracer,
                sampleRatio: spans?.sampleRatio ?? 1)
            let supervisor = ConsumerSupervisor(adapter: try brokers.adapter(for: consumer), context: context)
            consumers.append(NamedService(description: supervisor.description, service: supervisor))
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

    /// The client libraries of the brokers the consumers use, in kind order.
    public func clientLibraries() -> [ClientLibrary] {
        Set(config.consumers.map(\.source.kind)).sorted().compactMap { brokers[$0]?.clientLibrary }
    }

    /// Runs until a shutdown signal, then stops within the grace period.
    public func run(gracePeriod: Duration? = nil) async throws {
        let libraries = clientLibraries()
        logger.info(
            "idem starting",
            metadata: [
                "config": .string(config.file),
                "consumers": .string(config.consumers.map(\.name).joined(separator: ",")),
                "clients": .string(libraries.map(\.description).joined(separator: ", ")),
            ])
        for advice in libraries.compactMap(\.advice) { logger.notice("\(advice)") }
        for warning in ConfigWarnings.warnings(for: config) { logger.warning("\(warning)") }
        if let problem = brokerProblems().first { throw problem }
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
