import ArgumentParser
import IdemConfig
import IdemCore
import IdemRuntime
import Logging

/// `idem check-config FILE`: validates a configuration without connecting to anything.
struct CheckConfig: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Validate a worker configuration and print what it sets up.",
        discussion: "Problems are printed as FILE:LINE:COLUMN: KEY.PATH: what was expected. Exit 2 if any."
    )

    @Argument(help: ArgumentHelp("The configuration file (default: --config, or worker.yaml).", valueName: "file"))
    var file: String?

    @OptionGroup var options: ConfigOptions

    @Flag(help: "Treat warnings as errors (exit 2).")
    var strict = false

    func run() async throws {
        let path = file ?? options.config
        let config = try ConfigOptions.load(path)
        var lines = ["\(path): OK"]
        lines.append("  postgres: \(config.postgres.redactedURL), table \(config.postgres.table)")
        lines.append(
            config.metrics.enabled
                ? "  metrics and health: http://\(config.metrics.listen) (/metrics, /healthz, /readyz)"
                : "  metrics and health: off")
        for consumer in config.consumers {
            let ids = consumer.identity.sources.map(\.description).joined(separator: " → ")
            lines.append(
                "  consumer \(consumer.name): \(consumer.source.summary); id \(ids); handler \(consumer.handler.kind.name); dedup \(consumer.dedup.mode.rawValue); up to \(consumer.retry.maxAttempts) attempts"
            )
        }
        var logger = Logger(label: "idem")
        logger.logLevel = .error
        let problems = await WorkerRuntime(config: config, logger: logger, handlers: RegisteredHandlers.current)
            .handlerProblems()
        guard problems.isEmpty else {
            throw CLIFailure.config(problems.map { "\(path): \($0)" }.joined(separator: "\n"))
        }
        print(lines.joined(separator: "\n"))
        let warnings = ConfigWarnings.warnings(for: config)
        for warning in warnings {
            printError("warning: \(warning)")
        }
        if strict && !warnings.isEmpty {
            throw CLIFailure.config("\(warnings.count) warning\(warnings.count == 1 ? "" : "s") with --strict")
        }
    }
}
