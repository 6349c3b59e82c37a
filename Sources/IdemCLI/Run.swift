import ArgumentParser
import IdemConfig
import IdemConsumerKit
import IdemPostgresStore
import IdemRuntime
import Logging

/// `idem run --config FILE`: runs every configured consumer until SIGTERM or SIGINT.
struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run every configured consumer until SIGTERM or SIGINT.",
        discussion: """
            On SIGTERM or SIGINT idem stops taking messages, finishes or abandons in-flight work \
            within the grace period (shutdown.grace_period, or --grace-period), and exits 0.
            """
    )

    @OptionGroup var options: ConfigOptions

    @Option(help: ArgumentHelp("Override shutdown.grace_period, e.g. 10s.", valueName: "duration"))
    var gracePeriod: String?

    func validate() throws {
        if let gracePeriod, DurationParser.parse(gracePeriod) == nil {
            throw ValidationError("--grace-period: expected a duration such as 500ms, 10s or 1m, got '\(gracePeriod)'")
        }
    }

    func run() async throws {
        let config = try options.load()
        LogSetup.bootstrap(config.logging)
        let logger = Logger(label: "idem")
        let metricsText = MetricsSetup.bootstrapPrometheus()
        let spans: WorkerRuntime.SpanExport?
        do {
            spans = try TracingSetup.bootstrap(config.tracing, logger: logger)
        } catch {
            logger.critical("idem could not start span export: \(error)")
            throw CLIFailure.config("\(options.config): tracing: \(error)")
        }
        let runtime = WorkerRuntime(
            config: config, logger: logger, handlers: Registrations.handlers, brokers: Registrations.brokers,
            metricsText: metricsText, spans: spans)
        do {
            try await runtime.run(gracePeriod: gracePeriod.flatMap(DurationParser.parse))
        } catch let error as BrokerRegistryError {
            logger.critical("idem could not start: \(error)")
            throw CLIFailure.config("\(options.config): \(error)")
        } catch let error as HandlerSetupError {
            logger.critical("idem could not start: \(error)")
            throw CLIFailure.config("\(options.config): \(error)")
        } catch {
            logger.critical("idem stopped on an error: \(error)")
            throw CLIFailure.runtime("idem run failed: \(error)")
        }
    }
}
