import ArgumentParser
import Foundation
import Logging

/// The broker and topic options every Kafka load generator takes.
struct KafkaTarget: ParsableArguments {
    @Option(help: "Kafka bootstrap servers (default: $IDEM_TEST_KAFKA_BROKERS).")
    var brokers: String?

    @Option(help: "The topic.")
    var topic: String

    /// `--brokers`, or `$IDEM_TEST_KAFKA_BROKERS` (set by scripts/services.sh).
    func resolvedBrokers() throws -> String {
        guard let brokers = brokers ?? ProcessInfo.processInfo.environment["IDEM_TEST_KAFKA_BROKERS"] else {
            throw ValidationError("give --brokers or set IDEM_TEST_KAFKA_BROKERS")
        }
        return brokers
    }

    /// A logger for the Kafka clients: warnings and worse.
    var logger: Logger {
        var logger = Logger(label: "idem-bench")
        logger.logLevel = .warning
        return logger
    }
}
