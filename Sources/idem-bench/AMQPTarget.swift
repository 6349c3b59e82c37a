import ArgumentParser
import Foundation
import Logging

/// The broker and queue options every RabbitMQ load generator takes.
struct AMQPTarget: ParsableArguments {
    @Option(help: "RabbitMQ URL (default: $IDEM_TEST_AMQP_URL).")
    var url: String?

    @Option(help: "The queue (published to through the default exchange).")
    var queue: String

    /// `--url`, or `$IDEM_TEST_AMQP_URL` (set by scripts/services.sh).
    func resolvedURL() throws -> String {
        guard let url = url ?? ProcessInfo.processInfo.environment["IDEM_TEST_AMQP_URL"] else {
            throw ValidationError("give --url or set IDEM_TEST_AMQP_URL (scripts/services.sh start rabbitmq)")
        }
        return url
    }

    /// A logger for the connection: warnings and worse.
    var logger: Logger {
        var logger = Logger(label: "idem-bench")
        logger.logLevel = .warning
        return logger
    }
}
