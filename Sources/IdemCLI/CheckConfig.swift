import ArgumentParser
import IdemConfig
import IdemConsumerKit
import IdemCore
import IdemPostgresStore
import IdemRuntime
import Logging

/// `idem check-config FILE`: validates a configuration; the only service it asks anything
/// is Kafka, for the retention of the topics (skipped with `--offline`).
struct CheckConfig: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Validate a worker configuration and print what it sets up.",
        discussion: """
            Problems are printed as FILE:LINE:COLUMN: KEY.PATH: what was expected. Exit 2 if any.

            For RabbitMQ consumers the broker is asked (changing nothing) whether an existing \
            queue is of the configured queue_type, whether the dead-letter route exists when \
            declare is false, and whether a quorum queue's default delivery limit (20 from \
            RabbitMQ 4) leaves room for the attempts with retry_via: requeue: the checks idem \
            run makes before it consumes. A problem there is an error (exit 2).

            Warnings (standard error) name settings that are valid but probably wrong, such as a \
            dedup retention not longer than the redelivery horizon. For Kafka consumers the \
            brokers are asked for each topic's retention (retention.ms, cleanup.policy; at most \
            \(DurationParser.format(CheckConfig.kafkaTimeout)) in all): a dedup retention shorter \
            than the topic's is a warning, since a group whose committed offsets are lost or \
            reset reads again records whose rows are gone. When the brokers cannot be reached or \
            do not answer, a note says so. --offline asks nothing of any service.
            """
    )

    /// The most the Kafka topic retention check may take.
    static let kafkaTimeout = Duration.seconds(3)

    @Argument(help: ArgumentHelp("The configuration file (default: --config, or worker.yaml).", valueName: "file"))
    var file: String?

    @OptionGroup var options: ConfigOptions

    @Flag(help: "Treat warnings as errors (exit 2).")
    var strict = false

    @Flag(help: "Ask no broker anything (skip reading the Kafka topics' retention).")
    var offline = false

    func run() async throws {
        let path = file ?? options.config
        let config = try ConfigOptions.load(path)
        var lines = ["\(path): OK"]
        lines.append("  postgres: \(config.postgres.redactedURL), table \(config.postgres.table)")
        lines.append(
            config.metrics.enabled
                ? "  metrics and health: http://\(config.metrics.listen) (/metrics, /healthz, /readyz)"
                : "  metrics and health: off")
        switch (config.admin.enabled, config.admin.listen) {
        case (false, _): lines.append("  admin API: off")
        case (true, .metrics): lines.append("  admin API: on the operations listener (/admin/consumers), bearer token")
        case (true, .address(let host, let port)):
            let address = MetricsSettings(host: host, port: port).listen
            lines.append("  admin API: http://\(address) (/admin/consumers), bearer token")
        }
        let tracing = config.tracing
        lines.append(
            tracing.enabled
                ? "  spans: OTLP/HTTP \(tracing.encoding.rawValue) to \(Redaction.url(tracing.endpoint)), service \(tracing.serviceName), sampling \(tracing.sampleRatio) of new traces"
                : "  spans: off (trace context is still passed to handlers)")
        for consumer in config.consumers {
            let ids = consumer.identity.sources.map(\.description).joined(separator: " → ")
            lines.append(
                "  consumer \(consumer.name): \(consumer.source.summary); id \(ids); handler \(consumer.handler.kind.name); dedup \(consumer.dedup.mode.rawValue); up to \(consumer.retry.maxAttempts) attempts"
            )
        }
        var logger = Logger(label: "idem")
        logger.logLevel = .error
        let runtime = WorkerRuntime(
            config: config, logger: logger, handlers: Registrations.handlers, brokers: Registrations.brokers)
        let problems =
            runtime.brokerProblems().map(\.description) + (await runtime.handlerProblems()).map(\.description)
        guard problems.isEmpty else {
            throw CLIFailure.config(problems.map { "\(path): \($0)" }.joined(separator: "\n"))
        }
        if !offline {
            var brokerProblems: [String] = []
            for consumer in config.consumers {
                guard let adapter = Registrations.brokers[consumer.source.kind] else { continue }
                let check = await adapter.checkBroker(for: consumer, timeout: Self.kafkaTimeout, logger: logger)
                brokerProblems += check.problems
                for note in check.notes { printError("note: \(note)") }
            }
            if !brokerProblems.isEmpty {
                throw CLIFailure.config(brokerProblems.map { "\(path): \($0)" }.joined(separator: "\n"))
            }
        }
        let libraries = runtime.clientLibraries()
        lines.append("  client libraries: \(libraries.map(\.description).joined(separator: ", "))")
        print(lines.joined(separator: "\n"))
        for advice in libraries.compactMap(\.advice) { printError("note: \(advice)") }
        var warnings = ConfigWarnings.warnings(for: config)
        if !offline {
            let kafka = await KafkaRetentionCheck.run(config, timeout: Self.kafkaTimeout)
            warnings += kafka.warnings
            var noted: Set<String> = []
            for note in kafka.notes where noted.insert(note).inserted {
                printError("note: \(note)")
            }
        }
        for warning in warnings {
            printError("warning: \(warning)")
        }
        if strict && !warnings.isEmpty {
            throw CLIFailure.config("\(warnings.count) warning\(warnings.count == 1 ? "" : "s") with --strict")
        }
    }
}
